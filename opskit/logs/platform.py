"""Lambda's platform lines: the one parser and writer of START, END, REPORT and XRAY.

Two log formats (the function's `LoggingConfig.LogFormat`):

* Text, one CloudWatch event per line, fields separated by tabs::

      START RequestId: <id> Version: $LATEST
      END RequestId: <id>
      REPORT RequestId: <id>\tDuration: 2.75 ms\tBilled Duration: 117 ms\tMemory Size: 128 MB\t
      Max Memory Used: 56 MB\tInit Duration: 113.51 ms\t
      XRAY TraceId: 1-5e34a66a-474xmpl7c2534a87870b4370\tSegmentId: 073cxmpl3e442861\tSampled: true\t

  On a traced function the XRAY line is part of the REPORT event (which is why Logs Insights
  discovers @xrayTraceId and @xraySegmentId on REPORT events); a separate XRAY event is read too.
* JSON: ``{"time": ..., "type": "platform.report", "record": {"requestId", "metrics":
  {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB", "initDurationMs"},
  "tracing": {"spanId", "type": "X-Amzn-Trace-Id", "value": "Root=...;Parent=...;Sampled=1"},
  "status"}}`` (Lambda Telemetry API schema), and ``platform.start`` / ``platform.runtimeDone``.

INIT billing, two eras. Before 2025-08-01 the INIT phase of on-demand ZIP functions on managed
runtimes was not billed: `Billed Duration` = ceil(Duration), with `Init Duration` beside it
(AWS docs' python-logging example: Duration 15.74 ms, Billed 16 ms, Init 130.49 ms). Since
then INIT is billed for every configuration and `Billed Duration` already contains it, as it
always did for container images and custom runtimes: ceil(Duration + Init Duration) (the
current ruby-logging example: 2.75 + 113.51 -> Billed 117 ms). A line says which era it is
from: `Billed Duration >= Duration + Init Duration` means INIT is included. A line that leaves
INIT out is charged by the rule in force on its date: INIT free before the cut-over, billed
(added once) from it on.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

INIT_BILLED_FROM = datetime(2025, 8, 1, tzinfo=UTC)
INIT_BILLED_FROM_MS = int(INIT_BILLED_FROM.timestamp() * 1000)
# Duration and Init Duration are printed rounded to 0.01 ms, Billed Duration is the ceiling of
# the exact sum: the printed sum can exceed it by up to two roundings.
INCLUDED_TOLERANCE_MS = 0.02

_NUMBER = r"\d+(?:\.\d+)?"
# RE2-compatible (no look-arounds), so DuckDB's regexp functions can use the same pattern.
REPORT_PATTERN = (
    rf"REPORT RequestId:\s*(?P<rid>\S+)\s+Duration:\s*(?P<duration>{_NUMBER}) ms\s+"
    rf"Billed Duration:\s*(?P<billed>{_NUMBER}) ms\s+Memory Size:\s*(?P<size>\d+) MB\s+"
    rf"Max Memory Used:\s*(?P<used>\d+) MB(?:\s+Init Duration:\s*(?P<init>{_NUMBER}) ms)?"
)
XRAY_PATTERN = r"XRAY TraceId:\s*(?P<trace>\S+)\s+SegmentId:\s*(?P<segment>\S+)\s+Sampled:\s*(?P<sampled>true|false)"
START_PATTERN = r"START RequestId:\s*(?P<rid>\S+)(?:\s+Version:\s*(?P<version>\S+))?"
END_PATTERN = r"END RequestId:\s*(?P<rid>\S+)"
# The REPORT event of a traced function ends with its XRAY line: one match reads both.
_REPORT = re.compile(
    REPORT_PATTERN + r"(?:[^\n]*\n" + XRAY_PATTERN.replace("?P<", "?P<x_") + ")?", re.ASCII
)
_XRAY = re.compile(XRAY_PATTERN, re.ASCII)
_START = re.compile(START_PATTERN, re.ASCII)
_END = re.compile(END_PATTERN, re.ASCII)
_RESTORE = re.compile(
    rf"Restore Duration:\s*({_NUMBER}) ms\s+Billed Restore Duration:\s*(\d+) ms", re.ASCII
)
_STATUS = re.compile(r"Status:\s*(\w+)(?:\s+Error Type:\s*(\S+))?", re.ASCII)


@dataclass(slots=True)
class Xray:
    trace_id: str
    segment_id: str | None
    sampled: bool


@dataclass(frozen=True, slots=True)
class Start:
    request_id: str
    version: str | None = None


@dataclass(frozen=True, slots=True)
class End:
    request_id: str


@dataclass(slots=True)  # not frozen: built once per REPORT line, on the hot path of cost
class Report:
    request_id: str
    duration_ms: float
    billed_ms: float
    memory_mb: int
    max_memory_mb: int | None = None
    init_ms: float | None = None
    restore_ms: float | None = None  # SnapStart
    billed_restore_ms: float | None = None
    status: str | None = None  # "timeout", "error", ... (absent on success in the text format)
    error_type: str | None = None
    xray: Xray | None = None

    @property
    def init_included(self) -> bool:
        """Does Billed Duration already contain the INIT phase (today's format)?"""
        return (
            self.init_ms is not None
            and self.billed_ms >= self.duration_ms + self.init_ms - INCLUDED_TOLERANCE_MS
        )

    def init_charged_ms(self, timestamp_ms: int | None) -> float:
        """The INIT milliseconds charged for this invocation (0 on a warm start).

        Included in Billed Duration: the INIT itself. Left out: nothing before 2025-08-01 (free
        then), its ceiling from then on (a line with no date counts as today's)."""
        if self.init_ms is None:
            return 0.0
        if self.init_included:
            return min(self.init_ms, self.billed_ms)
        if timestamp_ms is not None and timestamp_ms < INIT_BILLED_FROM_MS:
            return 0.0
        return float(math.ceil(self.init_ms))

    def charged_ms(self, timestamp_ms: int | None) -> float:
        """Milliseconds of duration AWS charges for this invocation, INIT counted once."""
        if self.init_ms is None or self.init_included:
            return self.billed_ms
        return self.billed_ms + self.init_charged_ms(timestamp_ms)


Line = Start | End | Report | Xray


def billed_duration(duration_ms: float, init_ms: float | None = None) -> int:
    """Billed Duration as Lambda computes it today: INIT included, rounded up to 1 ms."""
    return max(1, math.ceil(duration_ms + (init_ms or 0.0)))


# --- parsing ---------------------------------------------------------------------------------


def parse_xray(message: str) -> Xray | None:
    match = _XRAY.search(message)
    if match is None:
        return None
    return Xray(match["trace"], match["segment"], match["sampled"] == "true")


def parse_report(message: str) -> Report | None:
    """A text-format REPORT event (with its XRAY line, if any), else None."""
    match = _REPORT.match(message)
    if match is None:
        return None
    rid, duration, billed, size, used, init, trace, segment, sampled = match.groups()
    restore = status = error_type = billed_restore = None
    xray = None if trace is None else Xray(trace, segment, sampled == "true")
    if "Restore" in message:
        found = _RESTORE.search(message, match.end(5))
        if found:
            restore, billed_restore = float(found[1]), float(found[2])
    if "Status" in message:
        found = _STATUS.search(message, match.end(5))
        if found:
            status, error_type = found[1], found[2]
    if xray is None and "XRAY" in message:
        xray = parse_xray(message)
    return Report(
        rid,
        float(duration),
        float(billed),
        int(size),
        int(used),
        None if init is None else float(init),
        restore,
        billed_restore,
        status,
        error_type,
        xray,
    )


def _xray_of_tracing(tracing: Any) -> Xray | None:
    """`{"spanId", "type": "X-Amzn-Trace-Id", "value": "Root=...;Parent=...;Sampled=1"}`."""
    if not isinstance(tracing, dict):
        return None
    value = tracing.get("value")
    if not isinstance(value, str):
        return None
    parts = dict(part.split("=", 1) for part in value.replace(" ", "").split(";") if "=" in part)
    root = parts.get("Root")
    if not root:
        return None
    span = tracing.get("spanId")
    return Xray(root, str(span) if span else parts.get("Parent"), parts.get("Sampled") == "1")


def from_record(document: dict[str, Any]) -> Line | None:
    """A decoded JSON-format platform event (`{"time", "type", "record"}`), else None."""
    kind = document.get("type")
    record = document.get("record")
    if (
        not isinstance(kind, str)
        or not kind.startswith("platform.")
        or not isinstance(record, dict)
    ):
        return None
    request_id = record.get("requestId")
    if kind == "platform.report":
        metrics = record.get("metrics")
        if not isinstance(metrics, dict) or request_id is None:
            return None
        try:
            duration = float(metrics["durationMs"])
            billed = float(metrics["billedDurationMs"])
            memory = int(metrics.get("memorySizeMB") or 0)
            used = metrics.get("maxMemoryUsedMB")
            init = metrics.get("initDurationMs")
            restore = metrics.get("restoreDurationMs")
            billed_restore = metrics.get("billedRestoreDurationMs")
            return Report(
                str(request_id),
                duration,
                billed,
                memory,
                None if used is None else int(used),
                None if init is None else float(init),
                None if restore is None else float(restore),
                None if billed_restore is None else float(billed_restore),
                None if record.get("status") in (None, "success") else str(record["status"]),
                None if record.get("errorType") is None else str(record["errorType"]),
                _xray_of_tracing(record.get("tracing")),
            )
        except (KeyError, TypeError, ValueError):
            return None
    if request_id is None:
        return None
    if kind == "platform.start":
        version = record.get("version")
        return Start(str(request_id), None if version is None else str(version))
    if kind == "platform.runtimeDone":
        return End(str(request_id))
    return None


def parse(message: str) -> Line | None:
    """Any platform line, text or JSON format; None for everything else (application lines)."""
    head = message[:7]
    if head.startswith("REPORT "):
        return parse_report(message)
    if head.startswith("START "):
        match = _START.match(message)
        return None if match is None else Start(match["rid"], match["version"])
    if head.startswith("END "):
        match = _END.match(message)
        return None if match is None else End(match["rid"])
    if head.startswith("XRAY "):
        return parse_xray(message)
    if head.startswith("{") and '"platform.' in message:
        try:
            document = orjson.loads(message)
        except orjson.JSONDecodeError:
            return None
        return from_record(document) if isinstance(document, dict) else None
    return None


# --- writing ---------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.2f}"


def format_start(request_id: str, version: str = "$LATEST") -> str:
    return f"START RequestId: {request_id} Version: {version}\n"


def format_end(request_id: str) -> str:
    return f"END RequestId: {request_id}\n"


def format_xray(xray: Xray) -> str:
    sampled = "true" if xray.sampled else "false"
    return (
        f"XRAY TraceId: {xray.trace_id}\tSegmentId: {xray.segment_id or ''}\tSampled: {sampled}\t\n"
    )


def format_report(report: Report) -> str:
    """The text-format REPORT event, XRAY line included when the invocation was traced."""
    parts = [
        f"REPORT RequestId: {report.request_id}",
        f"Duration: {_ms(report.duration_ms)} ms",
        f"Billed Duration: {report.billed_ms:.0f} ms",
        f"Memory Size: {report.memory_mb} MB",
        f"Max Memory Used: {report.max_memory_mb or 0} MB",
    ]
    if report.init_ms is not None:
        parts.append(f"Init Duration: {_ms(report.init_ms)} ms")
    if report.restore_ms is not None:
        parts.append(f"Restore Duration: {_ms(report.restore_ms)} ms")
        parts.append(f"Billed Restore Duration: {report.billed_restore_ms or 0:.0f} ms")
    if report.status is not None:
        parts.append(f"Status: {report.status}")
        if report.error_type:
            parts.append(f"Error Type: {report.error_type}")
    text = "\t".join(parts) + "\t\n"
    if report.xray is not None:
        text += format_xray(report.xray)
    return text


def _iso(timestamp_ms: int) -> str:
    moment = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def format_report_json(report: Report, timestamp_ms: int) -> str:
    """The JSON-format `platform.report` event."""
    metrics: dict[str, Any] = {
        "durationMs": report.duration_ms,
        "billedDurationMs": int(report.billed_ms),
        "memorySizeMB": report.memory_mb,
        "maxMemoryUsedMB": report.max_memory_mb or 0,
    }
    if report.init_ms is not None:
        metrics["initDurationMs"] = report.init_ms
    if report.restore_ms is not None:
        metrics["restoreDurationMs"] = report.restore_ms
        metrics["billedRestoreDurationMs"] = int(report.billed_restore_ms or 0)
    record: dict[str, Any] = {"requestId": report.request_id, "metrics": metrics}
    if report.xray is not None:
        value = f"Root={report.xray.trace_id}"
        if report.xray.segment_id:
            value += f";Parent={report.xray.segment_id}"
        value += f";Sampled={1 if report.xray.sampled else 0}"
        record["tracing"] = {
            "spanId": report.xray.segment_id,
            "type": "X-Amzn-Trace-Id",
            "value": value,
        }
    record["status"] = report.status or "success"
    if report.error_type:
        record["errorType"] = report.error_type
    document = {"time": _iso(timestamp_ms), "type": "platform.report", "record": record}
    return orjson.dumps(document).decode()


def format_start_json(request_id: str, timestamp_ms: int, version: str = "$LATEST") -> str:
    record = {"requestId": request_id, "version": version}
    return orjson.dumps(
        {"time": _iso(timestamp_ms), "type": "platform.start", "record": record}
    ).decode()
