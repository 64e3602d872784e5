"""Write the dashboard preview: pick the sources (CloudWatch or the local account), render, save."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.config import Environment
from opskit.dashboards.preview import (
    alarm_reader,
    build_views,
    cloudwatch_fetcher,
    insights_runner,
    local_fetcher,
    local_runner,
    preview_window,
    render_html,
)
from opskit.errors import ConfigError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_logs import CloudWatchLogsClient


@dataclass
class PreviewSummary:
    widgets: int
    charts: int
    points: int
    start: datetime
    end: datetime
    errors: list[str] = field(default_factory=list)


def write_preview(
    cw: CloudWatchClient,
    logs: CloudWatchLogsClient,
    env: Environment,
    body: dict[str, Any],
    target: Path,
    *,
    now: datetime,
    hours: float | None,
    sleep: Callable[[float], None],
    title: str,
) -> PreviewSummary:
    start, end = preview_window(body, now, hours)
    if env.local:
        from opskit.alarms.local import evaluate_local

        evaluate_local(cw, env.state_dir, env.stack_name, now)
        fetch, run, source = local_fetcher(env.state_dir), local_runner(logs), "local account"
    else:
        fetch, run = cloudwatch_fetcher(cw), insights_runner(logs, sleep)
        source = f"CloudWatch {env.region}"
    views = build_views(
        body, start=start, end=end, fetch_metrics=fetch, run_query=run, read_alarms=alarm_reader(cw)
    )
    text = render_html(views, title=title, start=start, end=end, source=source)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {target}", exc.strerror or str(exc), "pass --out to a writable path"
        ) from None
    metric_views = [v for v in views if v.kind == "metric"]
    return PreviewSummary(
        widgets=len(views),
        charts=sum(1 for v in metric_views if "series" in v.body),
        points=sum(len(s["points"]) for v in metric_views for s in v.body.get("series", [])),
        start=start,
        end=end,
        errors=[
            f"{v.kind} widget '{v.title}': {v.body['error']}" for v in views if "error" in v.body
        ],
    )
