"""Terminal charts from block characters: a sparkline and a multi-row bar chart (plain Rich)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.panel import Panel
from rich.text import Text

BLOCKS = " ▁▂▃▄▅▆▇█"


def resample(values: Sequence[float | None], width: int) -> list[float | None]:
    """At most `width` points: buckets averaged (gaps stay gaps)."""
    if len(values) <= width:
        return list(values)
    out: list[float | None] = []
    for column in range(width):
        start = column * len(values) // width
        end = max(start + 1, (column + 1) * len(values) // width)
        bucket = [v for v in values[start:end] if v is not None]
        out.append(sum(bucket) / len(bucket) if bucket else None)
    return out


def sparkline(values: Sequence[float | None], width: int = 40) -> str:
    """One line: each point a block scaled to the largest; gaps are dots."""
    points = resample(values, width)
    top = max((v for v in points if v is not None), default=0.0)
    chars = []
    for v in points:
        if v is None:
            chars.append("·")
        elif top <= 0:
            chars.append(BLOCKS[1])
        else:
            chars.append(BLOCKS[max(1, round(max(v, 0.0) / top * 8))])
    return "".join(chars)


def bar_rows(values: Sequence[float | None], width: int = 60, height: int = 6) -> list[str]:
    """`height` text rows, top row first; each column is one (resampled) point, 1/8-row resolution."""
    points = resample(values, width)
    present = [v for v in points if v is not None]
    top = max(present, default=0.0) or 1.0
    rows = []
    for row in range(height - 1, -1, -1):
        line = []
        for v in points:
            if v is None:
                line.append("·" if row == 0 else " ")
                continue
            eighths = round(max(v, 0.0) / top * height * 8)
            filled = eighths - row * 8
            line.append(BLOCKS[8] if filled >= 8 else BLOCKS[filled] if filled > 0 else " ")
        rows.append("".join(line))
    return rows


def chart_panel(
    title: str,
    values: Sequence[float | None],
    unit: str,
    *,
    width: int = 60,
    height: int = 6,
    style: str = "cyan",
    note: str = "",
) -> Panel:
    present = [v for v in values if v is not None]
    last = next((v for v in reversed(values) if v is not None), None)
    stats = (
        f"last {_fmt(last)}{unit}  min {_fmt(min(present))}{unit}  max {_fmt(max(present))}{unit}"
        if present
        else "no data in this window"
    )
    body = Text()
    for line in bar_rows(values, width=width, height=height):
        body.append(line + "\n", style=style)
    body.append(stats, style="bold")
    if note:
        body.append("\n" + note, style="dim")
    # fixed width (bars + border + padding): side-by-side panels line up whatever their notes say
    return Panel(Group(body), title=title, title_align="left", width=width + 4)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}".rstrip("0").rstrip(".") if value else "0"
