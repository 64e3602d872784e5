"""Logs Insights: the query library, the CloudWatch runner and the local engine."""
