"""opskit's local alarm evaluation and the dashboard preview, against the calls they need.

A moto server on 127.0.0.1 with a stand-in stack, the baseline applied, and an hour of
minute data from the local shipper's loop (gateway-shaped access lines through the metric
filters and the derived metrics, raw values kept). Then, medians of REPEAT runs:
- alarm_eval_ratio: evaluating every baseline alarm over that hour (read the raw values,
  index them, evaluate each alarm at each of the hour's 60 minutes) / one local
  describe_alarms call (the baseline: the evaluator must cost less than listing the alarms);
- preview_ratio: rendering the shipped dashboard's preview (GetMetricData per metric widget,
  the log queries on the local engine, describe_alarms, HTML) / the same GetMetricData and
  query calls made bare (no widget parsing, no HTML).
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bench._alarm_stack import median_seconds, standin_stack
from opskit.alarms.service import apply_plan, desired_alarms, existing_alarms, plan_alarms
from opskit.dashboards import preview as pv
from opskit.dashboards.render import fill_template, load_template, managed_alarm_arns
from opskit.insights.library import load_library
from opskit.local.alarm_eval import EvaluationState, evaluate_alarms
from opskit.local.metric_query import MetricIndex, get_metric_data
from opskit.local.metrics import (
    FilterMetrics,
    RawStore,
    Target,
    raw_metrics_path,
)
from opskit.local.shipper import MetricSink, PlatformLines, Sink, run

STACK = "bench-local"
ROOT = Path(__file__).resolve().parents[1]


def hour_of_lines(now: datetime) -> list[str]:
    lines = []
    minute = now.replace(second=0, microsecond=0)
    for back in range(60, 0, -1):
        start = minute - timedelta(minutes=back)
        for i in range(30):
            failing = back % 7 == 0 and i < 6
            status = 502 if failing else (429 if i >= 27 else 200)
            lines.append(
                json.dumps(
                    {
                        "level": "INFO",
                        "message": "request",
                        "timestamp": (start + timedelta(seconds=2 * i)).strftime(
                            "%Y-%m-%dT%H:%M:%S.000Z"
                        ),
                        "route": "/api/users",
                        "status": status,
                        "latency_ms": 10.0 + (i * 37 + back) % 300,
                        "upstream": None if status == 429 else "users",
                        "upstream_status": 200 if status == 200 else None,
                        "rate_limited": status == 429,
                    }
                )
            )
    return lines


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="opskit-bench-"))
    with standin_stack(STACK, "local", tmp) as (clients, env, outputs):
        desired = desired_alarms(clients, env)
        plan, topic = plan_alarms(clients, env, desired)
        apply_plan(clients, env, plan, topic)

        cw, logs = clients.client("cloudwatch"), clients.client("logs")
        group = outputs["FunctionLogGroupName"]
        now = datetime.now(UTC)
        store = RawStore(raw_metrics_path(env.state_dir))
        sink = MetricSink(
            cw, Target("benchapi", "$default", outputs["FunctionName"]),
            filters=FilterMetrics(logs, group), store=store,
        )  # fmt: skip
        lines = hour_of_lines(now)
        run(
            iter(lines),
            Sink(logs, group, "s"),
            PlatformLines(512, 0, now.timestamp() - 4000),
            metrics=sink,
        )
        alarms = existing_alarms(cw, f"{STACK}-")

        def evaluate() -> int:
            index = MetricIndex(store.read())
            state = EvaluationState(tmp / "unused.json")
            transitions, _ = evaluate_alarms(alarms, index, state, now)
            return len(transitions)

        transitions = evaluate()
        describe_s = median_seconds(lambda: cw.describe_alarms(AlarmNamePrefix=f"{STACK}-"))
        eval_s = median_seconds(evaluate)
        print(f"alarms_local.alarms={len(alarms)}")
        print("alarms_local.minutes_of_data=60")
        print(f"alarms_local.transitions={transitions}")
        print(f"alarms_local.describe_alarms_ms={describe_s * 1000:.1f}")
        print(f"alarms_local.evaluate_hour_ms={eval_s * 1000:.1f}")
        print(f"alarm_eval_ratio={eval_s / describe_s:.2f}")

        context = {**outputs, "Stack": STACK, "Region": "us-east-1", "Stage": "$default",
                   "GatewayNamespace": f"Opskit/Gateway/{STACK}", "AccessLogGroupName": "/x"}  # fmt: skip
        body = fill_template(
            load_template(ROOT / "dashboards" / "gateway.json"),
            context,
            alarm_arns=managed_alarm_arns(cw, STACK),
            queries=load_library(ROOT / "queries"),
        ).body
        start, end = pv.preview_window(body, now, 1.0)
        out = tmp / "preview.html"

        def render_preview() -> None:
            views = pv.build_views(
                body, start=start, end=end, fetch_metrics=pv.local_fetcher(env.state_dir),
                run_query=pv.local_runner(logs), read_alarms=pv.alarm_reader(cw),
            )  # fmt: skip
            out.write_text(pv.render_html(views, title=STACK, start=start, end=end, source="bench"))

        widgets = body["widgets"]
        metric_calls = [
            pv.api_queries(pv.metric_queries(w["properties"]))
            for w in widgets
            if w["type"] == "metric"
        ]
        log_calls = [
            pv.split_source(w["properties"]["query"]) for w in widgets if w["type"] == "log"
        ]
        alarm_names = [
            a.rsplit(":alarm:", 1)[-1]
            for w in widgets
            if w["type"] == "alarm"
            for a in w["properties"]["alarms"]
        ]

        def bare_calls() -> None:
            from opskit.insights.engine import run_events
            from opskit.logs.cloudwatch import filter_events

            index = MetricIndex(store.read())
            for queries in metric_calls:
                get_metric_data(index, queries, start, end)
            start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
            events = {
                g: list(filter_events(logs, g, start_ms, end_ms))
                for g in {g for gs, _ in log_calls for g in gs}
            }
            for groups, text in log_calls:
                run_events(
                    text, [e for g in groups for e in events[g]], start_ms=start_ms, end_ms=end_ms
                )
            cw.describe_alarms(AlarmNames=alarm_names[:100])

        render_preview()
        bare_s = median_seconds(bare_calls, 5)
        preview_s = median_seconds(render_preview, 5)
        print(f"alarms_local.preview_bytes={out.stat().st_size}")
        print(f"alarms_local.preview_bare_calls_ms={bare_s * 1000:.1f}")
        print(f"alarms_local.preview_ms={preview_s * 1000:.1f}")
        print(f"preview_ratio={preview_s / bare_s:.2f}")


if __name__ == "__main__":
    main()
