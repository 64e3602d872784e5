"""What `opskit cost` prints: JSON documents and the lines that lead each report.

Pure functions over the report and estimate objects; the command only renders them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from opskit.cost.explorer import RequestCounter
from opskit.cost.report import CostReport

REPORT_COLUMNS = ["group", "kind", "cost_usd", "previous_usd", "delta_usd", "delta_pct"]
ESTIMATE_COLUMNS = [
    "service",
    "item",
    "quantity",
    "unit",
    "billable",
    "cost_usd",
    "rate_key",
    "as_of",
]


def report_document(report: CostReport, counter: RequestCounter, account_id: str) -> dict[str, Any]:
    data = report.to_dict()
    data["account_id"] = account_id
    data["cost_explorer"] = counter.to_dict()
    return data


def report_title(report: CostReport) -> str:
    scope = (
        "all account"
        if report.scope is None
        else ", ".join(f"{k}={v}" for k, v in report.scope.items())
    )
    shown = report.period.label()
    if report.asked != report.period:
        last = report.asked.end - timedelta(days=1)
        shown += f" to date ({report.asked.start.isoformat()}..{last.isoformat()})"
    title = f"{report.metric} cost {shown} ({scope}) vs {report.comparison_label()}"
    if report.estimated:
        title += "  [ESTIMATED: the period is not closed]"
    return title


def report_table(report: CostReport) -> list[dict[str, str]]:
    out = []
    for row in report.table_rows():
        pct = row["delta_pct"]
        out.append(
            {
                "group": row["group"],
                "cost_usd": f"{row['cost_usd']:,.2f}",
                "previous_usd": ""
                if row["previous_usd"] is None
                else f"{row['previous_usd']:,.2f}",
                "delta_usd": "" if row["delta_usd"] is None else f"{row['delta_usd']:+,.2f}",
                "delta_pct": (
                    ("new" if row["cost_usd"] and row["kind"] == "usage" else "")
                    if pct is None
                    else f"{pct:+.1f}%"
                ),
            }
        )
    return out


def forecast_line(forecast: dict[str, Any]) -> str:
    band = ""
    if (
        forecast.get("month_end_low_usd") is not None
        and forecast.get("month_end_high_usd") is not None
    ):
        band = f" (80% interval {forecast['month_end_low_usd']:.2f}-{forecast['month_end_high_usd']:.2f})"
    return (
        f"Forecast to month end: ${forecast['month_end_usd']:.2f}{band}; month to date "
        f"${forecast['month_to_date_usd']:.2f} [estimated]"
    )


def estimate_lead(data: dict[str, Any]) -> list[str]:
    """Basis first (for a projection), then cost per million requests and the fixed monthly cost
    apart, then the month's total at that traffic."""
    lines = []
    projection = (data.get("from_logs") or {}).get("projection")
    if projection:
        lines.append(f"Basis: {projection['lead']}.")
    usage = data["usage"]
    lines.append(
        f"Cost per million requests: ${data['variable_per_million_requests_usd']:,.2f} "
        "(what traffic adds: requests, compute, logs, traces, transfer)."
    )
    lines.append(
        f"Fixed monthly cost: ${data['fixed_monthly_usd']:,.2f} (paid with no traffic: alarms, "
        "metrics, dashboards, storage)."
    )
    total = f"${data['total_usd']:,.2f}"
    if data.get("credits_usd"):
        total += f" after ${data['credits_usd']:,.2f} of Free plan credits"
    lines.append(
        f"Month total at {usage['requests']:,.0f} requests: {total}. Free tier: "
        f"{data['free_tier']}. Prices: {data['prices']}."
    )
    if data.get("what_if"):
        w = data["what_if"]
        lines.append(
            f"What-if: ${w['what_if_total_usd']:,.2f} against ${w['measured_total_usd']:,.2f} "
            f"measured ({w['delta_usd']:+,.2f})."
        )
    return lines
