"""Dashboards: the CloudWatch body in dashboards/*.json (render, validate, push) and `opskit top`."""
