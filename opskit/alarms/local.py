"""Alarm states on the local account: opskit evaluates them (moto never does) and keeps history.

`evaluate_local` runs opskit.local.alarm_eval over the stack's alarms with the raw values
the local shipper kept, sets each changed state with set_alarm_state (so describe_alarms,
`alarms list` and the dashboard's alarm widget show it) and appends every transition to a
history file, which `alarms history` reads (moto has no DescribeAlarmHistory).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.alarms.service import existing_alarms
from opskit.aws import call
from opskit.local.alarm_eval import EvaluationState, Transition, evaluate_alarms, read_history
from opskit.local.metric_query import MetricIndex
from opskit.local.metrics import RawStore, local_metrics_dir, raw_metrics_path

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

EVALUATION_NOTE = (
    "States on the local account are opskit's evaluation of the alarm definitions over the "
    "metrics the local shipper published (CloudWatch's rules, not CloudWatch)."
)


@dataclass
class LocalEvaluation:
    transitions: list[Transition]
    states_set: list[str]


def _paths(state_dir: Path) -> tuple[Path, Path]:
    folder = local_metrics_dir(state_dir)
    return folder / "alarm-state.json", folder / "alarm-history.jsonl"


def evaluate_local(
    cw: CloudWatchClient, state_dir: Path, stack: str, now: datetime
) -> LocalEvaluation:
    alarms = existing_alarms(cw, f"{stack}-")
    state_path, history_path = _paths(state_dir)
    state = EvaluationState.load(state_path)
    index = MetricIndex(RawStore(raw_metrics_path(state_dir)).read())
    transitions, latest = evaluate_alarms(alarms, index, state, now)
    states_set = []
    for alarm in alarms:
        name = alarm["AlarmName"]
        decision = latest.get(name)
        if decision is None or not decision.reason:
            continue
        if (alarm.get("StateValue"), alarm.get("StateReason")) == (decision.state, decision.reason):
            continue
        call(
            f"cannot set the state of {name}",
            cw.set_alarm_state,
            AlarmName=name,
            StateValue=decision.state,
            StateReason=decision.reason[:1023],
            StateReasonData=json.dumps(decision.data),
        )
        states_set.append(name)
    if transitions:
        history_path.parent.mkdir(parents=True, exist_ok=True)
        with history_path.open("a") as handle:
            for item in transitions:
                handle.write(json.dumps(item.as_row()) + "\n")
    state.save()
    return LocalEvaluation(transitions, states_set)


def local_history(state_dir: Path, stack: str, name: str | None = None) -> list[dict[str, Any]]:
    """Transitions opskit recorded, newest first (all of the stack's alarms, or one)."""
    _, history_path = _paths(state_dir)
    rows = [
        r for r in read_history(history_path) if str(r.get("alarm", "")).startswith(f"{stack}-")
    ]
    if name is not None:
        rows = [r for r in rows if r["alarm"] in (name, f"{stack}-{name}")]
    # An alarm whose definition changed is replayed: the same transitions may be recorded twice.
    unique = {(r["alarm"], r["time"], r["from"], r["to"]): r for r in rows}
    return sorted(unique.values(), key=lambda r: (r["time"], r["alarm"]), reverse=True)
