"""Cost: Cost Explorer reports (cached, counted), anomalies, and the estimate model."""
