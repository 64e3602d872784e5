"""opskit's own alarm evaluation for the local account (moto stores alarms and never evaluates them).

NOT CLOUDWATCH: this is opskit applying CloudWatch's documented rules to the raw values the
local shipper published (opskit.local.metrics.RawStore), so that a local alarm definition can
be seen to fire. Every state it sets says so: the reason starts with "[opskit]" and the
reason data has "evaluatedBy": "opskit".

The rules (CloudWatch User Guide, "Using Amazon CloudWatch alarms", "Evaluating an alarm" and
"Configuring how CloudWatch alarms treat missing data"):
- an alarm is evaluated every minute, on its last complete periods; the statistic (or the
  metric math, IF/FILL/percentiles included, see opskit.local.metric_query) gives one
  datapoint per period;
- M of N: ALARM when at least DatapointsToAlarm of the last EvaluationPeriods datapoints
  breach the threshold, else OK;
- missing data: CloudWatch looks at an evaluation range longer than N (here N + 2 periods);
  with at least N real datapoints in it, the newest N are used and the missing-data setting
  does not matter; with fewer, the missing ones are filled as the setting says (breaching /
  notBreaching), or, for `missing` and `ignore`, only the real ones are judged (`ignore`
  keeps the current state where `missing` would go to ALARM); with none at all: `missing`
  -> INSUFFICIENT_DATA, `ignore` -> unchanged, `breaching` -> ALARM, `notBreaching` -> OK;
- alarms on AWS/DynamoDB metrics always ignore missing data.
Reasons follow CloudWatch's wording ("Threshold Crossed: 3 out of the last 5 datapoints
[...] were greater than the threshold (5.0) (minimum 3 datapoints for OK -> ALARM
transition).").

The first evaluation of an alarm replays the last REPLAY_SECONDS minute by minute, so
`opskit alarms history` shows what it would have done during traffic sent before
`alarms apply`; later runs continue from where the last one stopped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opskit.local.metric_query import MetricIndex, MetricQueryError, Series, query_series

REPLAY_SECONDS = 3600
EVALUATION_INTERVAL = 60
EXTRA_PERIODS = 2  # the evaluation range: N + 2 periods
EVALUATED_BY = "opskit"

_COMPARE: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}


@dataclass(frozen=True)
class Decision:
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    reason: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Transition:
    alarm: str
    timestamp: int  # epoch seconds of the evaluation
    old: str
    new: str
    reason: str
    replayed: bool = False  # evaluated for a time before this evaluator first saw the alarm

    def as_row(self) -> dict[str, Any]:
        return {
            "alarm": self.alarm,
            "time": _iso(self.timestamp),
            "from": self.old,
            "to": self.new,
            "reason": self.reason,
            "replayed": self.replayed,
        }


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cw_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%d/%m/%y %H:%M:%S")


def _num(value: float) -> str:
    return repr(round(float(value), 6)) if math.isfinite(value) else str(value)


def alarm_period(alarm: Mapping[str, Any]) -> int:
    if alarm.get("Period"):
        return int(alarm["Period"])
    periods = [
        int(q["MetricStat"]["Period"]) for q in alarm.get("Metrics") or [] if "MetricStat" in q
    ]
    periods += [int(q["Period"]) for q in alarm.get("Metrics") or [] if q.get("Period")]
    return max(periods, default=60)


def alarm_queries(alarm: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The GetMetricData queries whose ReturnData series the alarm judges."""
    if alarm.get("Metrics"):
        return [dict(q) for q in alarm["Metrics"]]
    stat = alarm.get("ExtendedStatistic") or alarm.get("Statistic") or "Average"
    return [
        {
            "Id": "m",
            "MetricStat": {
                "Metric": {
                    "Namespace": alarm["Namespace"],
                    "MetricName": alarm["MetricName"],
                    "Dimensions": alarm.get("Dimensions") or [],
                },
                "Period": int(alarm["Period"]),
                "Stat": stat,
            },
            "ReturnData": True,
        }
    ]


def alarm_series(alarm: Mapping[str, Any], index: MetricIndex, start: int, end: int) -> Series:
    """The alarm's datapoints from `start` to `end` (both aligned to its period by the caller)."""
    results = query_series(index, alarm_queries(alarm), start, end)
    if len(results) != 1:
        raise MetricQueryError(
            f"alarm {alarm.get('AlarmName')}: exactly one query must return data"
        )
    return results[0][1]


def treat_missing(alarm: Mapping[str, Any]) -> str:
    if not alarm.get("Metrics") and alarm.get("Namespace") == "AWS/DynamoDB":
        return "ignore"  # CloudWatch: AWS/DynamoDB alarms always ignore missing data
    return alarm.get("TreatMissingData") or "missing"


@dataclass(frozen=True)
class Rule:
    """What decide needs of an alarm, read once (an alarm is judged every minute)."""

    period: int
    n: int
    m: int
    threshold: float
    compare: Callable[[float, float], bool]
    words: str
    missing: str

    @classmethod
    def of(cls, alarm: Mapping[str, Any]) -> Rule:
        n = int(alarm["EvaluationPeriods"])
        compare, words = _COMPARE[alarm["ComparisonOperator"]]
        return cls(
            period=alarm_period(alarm),
            n=n,
            m=int(alarm.get("DatapointsToAlarm") or n),
            threshold=float(alarm["Threshold"]),
            compare=compare,
            words=words,
            missing=treat_missing(alarm),
        )


def judge(rule: Rule, series: Series, at: int, current: str) -> str:
    """The state only (cheap): what decide() explains."""
    return _judge(rule, series, at, current)[0]


def _judge(
    rule: Rule, series: Series, at: int, current: str
) -> tuple[str, list[tuple[int, float]], list[tuple[int, float]], int]:
    """(state, real datapoints used newest first, breaching ones, count as judged)."""
    end = at // rule.period * rule.period
    real = []
    for i in range(rule.n + EXTRA_PERIODS):
        ts = end - rule.period * (i + 1)
        if ts in series:
            real.append((ts, series[ts]))
            if len(real) == rule.n:
                break
    missing, n, m = rule.missing, rule.n, rule.m
    if not real:
        if missing == "ignore" and current != "INSUFFICIENT_DATA":
            return current, real, [], 0
        if missing in ("missing", "ignore"):
            return "INSUFFICIENT_DATA", real, [], 0
        return ("ALARM" if missing == "breaching" and m <= n else "OK"), real, [], 0
    breaching = [(ts, v) for ts, v in real if rule.compare(v, rule.threshold)]
    filled = n - len(real)
    if filled and missing == "breaching":
        count, needed = len(breaching) + filled, m
    elif filled and missing in ("missing", "ignore"):
        count, needed = len(breaching), min(m, len(real))
    else:  # enough real datapoints, or notBreaching fill
        count, needed = len(breaching), m
    if count >= needed:
        if filled and missing == "ignore":
            return current, real, breaching, count
        return "ALARM", real, breaching, count
    return "OK", real, breaching, count


def decide(alarm: Mapping[str, Any] | Rule, series: Series, at: int, current: str) -> Decision:
    """The alarm's state when evaluated at `at` (epoch seconds), with CloudWatch's reason."""
    rule = alarm if isinstance(alarm, Rule) else Rule.of(alarm)
    state, used, breaching, count = _judge(rule, series, at, current)
    n, m = rule.n, rule.m
    data: dict[str, Any] = {
        "evaluatedBy": EVALUATED_BY,
        "version": "1.0",
        "queryDate": _iso(at),
        "period": rule.period,
        "threshold": rule.threshold,
        "treatMissingData": rule.missing,
        "recentDatapoints": [v for _, v in used],
    }
    plural = "s" if n != 1 else ""
    if not used:
        if state == current and rule.missing == "ignore" and current != "INSUFFICIENT_DATA":
            return Decision(current, "", data)  # kept as it is
        if state == "INSUFFICIENT_DATA":
            verb = "were" if n != 1 else "was"
            return Decision(
                state, f"Insufficient Data: {n} datapoint{plural} {verb} unknown.", data
            )
        treated = "Breaching" if rule.missing == "breaching" else "NonBreaching"
        reason = (
            f"Threshold Crossed: no datapoints were received for {n} period{plural} and {n} "
            f"missing datapoint{plural} {'were' if n != 1 else 'was'} treated as [{treated}]."
        )
        return Decision(state, reason, data)
    if state == "ALARM":
        shown = ", ".join(f"{_num(v)} ({_cw_time(ts)})" for ts, v in breaching)
        reason = (
            f"Threshold Crossed: {count} out of the last {n} datapoint{plural} "
            f"[{shown}] {'were' if count != 1 else 'was'} {rule.words} the threshold "
            f"({_num(rule.threshold)}) (minimum {m} datapoint{'s' if m != 1 else ''} for "
            "OK -> ALARM transition)."
        )
        return Decision(state, reason, data)
    if state != "OK":  # kept by `ignore`
        return Decision(state, "", data)
    calm = [(ts, v) for ts, v in used if not rule.compare(v, rule.threshold)]
    shown = ", ".join(f"{_num(v)} ({_cw_time(ts)})" for ts, v in calm)
    reason = (
        f"Threshold Crossed: {len(calm)} datapoint{'s' if len(calm) != 1 else ''} [{shown}] "
        f"{'were' if len(calm) != 1 else 'was'} not {rule.words} the threshold "
        f"({_num(rule.threshold)}) (minimum {n - m + 1} datapoint{'s' if n - m + 1 != 1 else ''} "
        "for ALARM -> OK transition)."
    )
    return Decision(state, reason, data)


# ---- the local account: evaluate every alarm, set its state, keep its history


@dataclass
class EvaluationState:
    """What the evaluator remembers between runs (a JSON file in the local state dir)."""

    path: Path
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> EvaluationState:
        try:
            return cls(path, json.loads(path.read_text()))
        except (FileNotFoundError, ValueError):
            return cls(path)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.alarms, indent=1, sort_keys=True))


def read_history(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def evaluate_alarms(
    alarms: Sequence[Mapping[str, Any]],
    index: MetricIndex,
    state: EvaluationState,
    now: datetime,
) -> tuple[list[Transition], dict[str, Decision]]:
    """Evaluate each alarm every minute since its last evaluation (or the replay window).

    Returns the transitions and each alarm's latest decision; updates `state` (not saved).
    """
    at_now = int(now.timestamp()) // EVALUATION_INTERVAL * EVALUATION_INTERVAL
    transitions: list[Transition] = []
    latest: dict[str, Decision] = {}
    for alarm in alarms:
        name = alarm["AlarmName"]
        configured = alarm.get("AlarmConfigurationUpdatedTimestamp")
        config = str(configured or "")
        configured_at = configured.timestamp() if isinstance(configured, datetime) else 0.0
        remembered = state.alarms.get(name)
        memory: dict[str, Any]
        if remembered is not None and remembered.get("config") == config:
            memory = remembered
        else:
            memory = {
                "state": "INSUFFICIENT_DATA",
                "until": at_now - REPLAY_SECONDS,
                "config": config,
            }
        first = int(memory["until"]) + EVALUATION_INTERVAL
        if first > at_now:
            continue
        period = alarm_period(alarm)
        n = int(alarm["EvaluationPeriods"])
        window_start = (first // period - n - EXTRA_PERIODS) * period
        window_end = at_now // period * period
        try:
            series = alarm_series(
                alarm, index, window_start, max(window_end, window_start + period)
            )
        except MetricQueryError as exc:
            latest[name] = Decision("INSUFFICIENT_DATA", f"[opskit] cannot evaluate: {exc}", {})
            continue
        current = str(memory["state"])
        decision = None
        rule = Rule.of(alarm)
        last = first
        for at in range(first, at_now + 1, EVALUATION_INTERVAL):
            last = at
            if judge(rule, series, at, current) == current and "reason" in memory:
                continue
            decision = decide(rule, series, at, current)
            if decision.reason and "reason" not in memory:
                memory["reason"] = f"[opskit] {decision.reason}"  # the first state
            if decision.state != current:
                transitions.append(
                    Transition(
                        name,
                        at,
                        current,
                        decision.state,
                        f"[opskit] {decision.reason}",
                        replayed=at < configured_at,
                    )
                )
                current = decision.state
                memory["reason"] = f"[opskit] {decision.reason}"
                memory["changed"] = at
        if decision is not None and decision.reason and "reason" not in memory:
            memory["reason"] = f"[opskit] {decision.reason}"  # the first state, unchanged since
        memory.update(state=current, until=at_now)
        state.alarms[name] = memory
        final = decide(rule, series, last, current)
        if final.state == current and final.reason:
            # The state stays; its reason follows the latest evaluation's datapoints (a reason
            # from the replay's first minute, "no datapoints", would mislead once data came).
            memory["reason"] = f"[opskit] {final.reason}"
        latest[name] = Decision(current, str(memory.get("reason", "")), final.data)
    return transitions, latest
