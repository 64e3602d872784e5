"""Alarms: a declarative alarm set (baseline.toml), diffed against CloudWatch and applied idempotently."""
