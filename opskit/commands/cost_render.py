"""How `opskit cost` shows its two results: the Cost Explorer report and an estimate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from opskit.terminal import Terminal

if TYPE_CHECKING:
    from opskit.cost.explorer import RequestCounter
    from opskit.cost.report import CostReport


def render_report(
    terminal: Terminal, report: CostReport, counter: RequestCounter, account: str
) -> None:
    """The spend report: one document with a machine --output, else table, chart, forecast."""
    from opskit.cost.output import (
        REPORT_COLUMNS,
        forecast_line,
        report_document,
        report_table,
        report_title,
    )

    if terminal.machine_readable:
        data = report_document(report, counter, account)
        terminal.document(data, rows=report.table_rows(), columns=REPORT_COLUMNS)
        return
    terminal.render_rows(
        report_table(report),
        ["group", "cost_usd", "previous_usd", "delta_usd", "delta_pct"],
        title=report_title(report),
        output="table",
    )
    _chart(terminal, report.daily)
    if report.forecast:
        terminal.print(forecast_line(report.forecast))
    for note in report.notes:
        terminal.warn(note)


def render_estimate(
    terminal: Terminal, data: dict[str, Any], title: str, by: str = "route"
) -> None:
    """An estimate document: JSON/YAML/CSV as is, or the lead lines, line items and splits."""
    from opskit.cost.output import ESTIMATE_COLUMNS, estimate_lead

    lead = estimate_lead(data)
    if terminal.machine_readable:
        terminal.document({**data, "lead": lead}, rows=data["line_items"], columns=ESTIMATE_COLUMNS)
        return
    for line in lead:
        terminal.print(line)
    items = [
        {
            "service": i["service"],
            "item": i["item"],
            "quantity": _quantity(i["quantity"]),
            "unit": i["unit"],
            "cost_usd": f"{i['cost_usd']:.4f}",
        }
        for i in data["line_items"]
    ]
    if data.get("credits_usd"):
        items.append(
            {
                "service": "Credits",
                "item": "Free plan credits",
                "quantity": "",
                "unit": "",
                "cost_usd": f"{-data['credits_usd']:.4f}",
            }
        )
    items.append(
        {
            "service": "TOTAL",
            "item": "",
            "quantity": "",
            "unit": "",
            "cost_usd": f"{data['total_usd']:.4f}",
        }
    )
    terminal.render_rows(
        items,
        ["service", "item", "quantity", "unit", "cost_usd"],
        title=f"{title} [ESTIMATE]",
        output="table",
    )
    projection = (data.get("from_logs") or {}).get("projection")
    if projection:
        terminal.print(f"Projection ({projection['basis']}): {projection['label']}.")
    if by == "user" and data.get("users"):
        terminal.render_rows(
            data["users"],
            ["user", "requests_month", "share", "cost_usd", "per_million_usd"],
            title="Per user (projected month, from user_id in the access lines)",
            output="table",
        )
    elif data.get("routes"):
        terminal.render_rows(
            data["routes"],
            ["route", "requests_month", "share", "cost_usd", "per_million_usd"],
            title="Per route (projected month)",
            output="table",
        )
    for note in data.get("notes", []):
        if not projection or note != projection["label"]:  # already printed above
            terminal.info(f"note: {note}")


def _chart(terminal: Terminal, daily: list[tuple[Any, float]], width: int = 40) -> None:
    if not daily:
        return
    top = max(v for _, v in daily) or 1.0
    text = Text()
    for day, value in daily:
        bar = "█" * max(0, round(value / top * width))
        text.append(f"{day.isoformat()} ")
        text.append(bar or "·", style="cyan")
        text.append(f" {value:.2f}\n")
    terminal.print(text, end="")


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
