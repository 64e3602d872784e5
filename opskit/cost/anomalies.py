"""Recent anomalies from Cost Anomaly Detection, flattened to rows with impact and root causes."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from opskit.cost.explorer import CostExplorer
from opskit.errors import UsageError


def _root_cause(cause: dict[str, Any]) -> str:
    parts = [cause.get("Service"), cause.get("UsageType"), cause.get("Region")]
    account = cause.get("LinkedAccountName") or cause.get("LinkedAccount")
    if account:
        parts.append(f"account {account}")
    return " / ".join(str(p) for p in parts if p)


def recent_anomalies(explorer: CostExplorer, today: date, days: int = 30) -> list[dict[str, Any]]:
    if days < 1:
        raise UsageError(f"bad --days {days}", "must be at least 1", "e.g. --days 30")
    start = today - timedelta(days=days)
    rows = []
    for anomaly in explorer.anomalies(start, today):
        impact = anomaly.get("Impact", {})
        score = anomaly.get("AnomalyScore", {})
        rows.append(
            {
                "id": anomaly.get("AnomalyId", ""),
                "start": (anomaly.get("AnomalyStartDate") or "")[:10],
                "end": (anomaly.get("AnomalyEndDate") or "")[:10],
                "dimension": anomaly.get("DimensionValue", ""),
                "impact_usd": round(
                    float(impact.get("TotalImpact", impact.get("MaxImpact", 0)) or 0), 2
                ),
                "impact_pct": impact.get("TotalImpactPercentage"),
                "actual_usd": impact.get("TotalActualSpend"),
                "expected_usd": impact.get("TotalExpectedSpend"),
                "score": score.get("MaxScore"),
                "root_causes": "; ".join(_root_cause(c) for c in anomaly.get("RootCauses", []))
                or "(none given)",
                "feedback": anomaly.get("Feedback", ""),
            }
        )
    rows.sort(key=lambda r: -r["impact_usd"])
    return rows
