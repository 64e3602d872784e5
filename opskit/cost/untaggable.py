"""The part of the stack's bill the Project/Environment tags cannot see, estimated by the model.

CloudWatch dashboards and custom metrics, X-Ray traces, Logs Insights scans and the artifact
bucket opskit creates outside the stack carry no cost-allocation tags, so a tag-scoped Cost
Explorer report (and the tag-scoped budget) never includes them. The report shows them as one
labelled estimate from the cost model, prorated to the period.
"""

from __future__ import annotations

from typing import Any

from opskit.cost.model import DAYS_PER_MONTH, Estimate

UNTAGGABLE = {
    "cloudwatch_dashboard": "dashboards",
    "cloudwatch_custom_metric": "custom metrics",
    "cloudwatch_get_metric_data": "GetMetricData",
    "xray_traces_recorded": "X-Ray traces",
    "xray_traces_retrieved": "X-Ray retrievals",
    "logs_insights_scanned": "Logs Insights scans",
    "s3_storage": "artifact bucket",
}


def untaggable_estimate(result: Estimate, period_days: int) -> dict[str, Any]:
    by_part: dict[str, float] = {}
    for item in result.items:
        part = UNTAGGABLE.get(item.key)
        if part:
            by_part[part] = by_part.get(part, 0.0) + item.cost
    monthly = sum(by_part.values())
    share = period_days / DAYS_PER_MONTH
    amount = monthly * share
    parts = ", ".join(f"{name} ${cost * share:,.2f}" for name, cost in by_part.items() if cost)
    return {
        "estimate": True,
        "cost_usd": round(amount, 4),
        "monthly_usd": round(monthly, 4),
        "period_days": period_days,
        "parts_usd": {name: round(cost * share, 4) for name, cost in by_part.items()},
        "basis": f"cost model at {result.usage.requests:,.0f} requests a month",
        "label": (
            f"not in the tag-scoped numbers above: about ${amount:,.2f} for these {period_days} "
            f"days ({parts or 'nothing'}) that cannot carry the Project/Environment tags; a model "
            f"estimate at {result.usage.requests:,.0f} requests a month "
            "(`opskit cost estimate --from-logs` measures your traffic)"
        ),
    }
