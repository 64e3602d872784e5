"""CloudWatch log events: read them from files, turn each into the fields Insights discovers.

File formats (`--file PATH`):
* JSON lines, one event per line: {"timestamp": <epoch ms>, "message": "...",
  "logStreamName": "...", "ingestionTime": <epoch ms>} (only timestamp and message required);
* one JSON document with an `events` array (what `aws logs filter-log-events` prints).

Discovered fields, as CloudWatch documents them: @timestamp, @message, @logStream, @log,
@ingestionTime; a JSON message is flattened (`a.b`, arrays `a.0`); Lambda platform lines
(START/END/REPORT) give @type, @requestId, @duration, @billedDuration, @memorySize and
@maxMemoryUsed (bytes), @initDuration.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from opskit.errors import NotFoundError, QueryFailed
from opskit.insights.values import Timestamp

# Lambda reports memory in MB; Insights exposes bytes using 1 MB = 1,000,000 bytes
# (which is why AWS's own sample queries divide @maxMemoryUsed by 1000/1000).
MB = 1_000_000
_REPORT = re.compile(
    r"REPORT RequestId:\s*(?P<rid>\S+)\s+Duration:\s*(?P<duration>[\d.]+) ms\s+"
    r"Billed Duration:\s*(?P<billed>[\d.]+) ms\s+Memory Size:\s*(?P<size>\d+) MB\s+"
    r"Max Memory Used:\s*(?P<used>\d+) MB(?:\s+Init Duration:\s*(?P<init>[\d.]+) ms)?"
)
_START = re.compile(r"START RequestId:\s*(?P<rid>\S+)")
_END = re.compile(r"END RequestId:\s*(?P<rid>\S+)")


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def platform_fields(message: str) -> dict[str, Any]:
    """The fields CloudWatch discovers in a Lambda START/END/REPORT line (else {})."""
    head = message[:6]
    if head == "REPORT":
        match = _REPORT.match(message)
        if match:
            out: dict[str, Any] = {
                "@type": "REPORT",
                "@requestId": match["rid"],
                "@duration": _number(match["duration"]),
                "@billedDuration": _number(match["billed"]),
                "@memorySize": int(match["size"]) * MB,
                "@maxMemoryUsed": int(match["used"]) * MB,
            }
            if match["init"] is not None:
                out["@initDuration"] = _number(match["init"])
            return out
    elif head == "START ":
        match = _START.match(message)
        if match:
            return {"@type": "START", "@requestId": match["rid"]}
    elif head[:4] == "END ":
        match = _END.match(message)
        if match:
            return {"@type": "END", "@requestId": match["rid"]}
    return {}


def flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            flatten(item, f"{prefix}.{index}" if prefix else str(index), out)
    elif value is None:
        return  # JSON null: the field is absent
    elif isinstance(value, bool):
        out[prefix] = 1 if value else 0
    else:
        out[prefix] = value


def record(event: dict[str, Any], log_group: str | None = None) -> dict[str, Any]:
    """One event -> the row of fields a query sees."""
    message = event.get("message")
    if not isinstance(message, str):
        message = "" if message is None else str(message)
    row: dict[str, Any] = {}
    stripped = message.lstrip()
    if stripped.startswith("{"):
        try:
            parsed = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            flatten(parsed, "", row)
    else:
        row.update(platform_fields(message))
    row["@message"] = message
    row["@timestamp"] = Timestamp(event.get("timestamp") or 0)
    if event.get("logStreamName") is not None:
        row["@logStream"] = event["logStreamName"]
    group = event.get("logGroupName") or log_group
    if group is not None:
        row["@log"] = group
    if event.get("ingestionTime") is not None:
        row["@ingestionTime"] = Timestamp(event["ingestionTime"])
    return row


def _check(event: Any, where: str) -> dict[str, Any]:
    if (
        not isinstance(event, dict)
        or not isinstance(event.get("timestamp"), int)
        or "message" not in event
    ):
        raise QueryFailed(
            f"{where} is not a CloudWatch log event",
            'expected {"timestamp": <epoch ms>, "message": "..."}',
            "export events with `opskit logs export --out FILE` or `aws logs filter-log-events`",
        )
    return event


def file_kind(path: Path) -> str:
    """'lines' (JSON lines) or 'document' (a JSON object with an `events` array)."""
    if not path.is_file():
        raise NotFoundError(f"cannot read {path}", "no such file", "check the --file path")
    with path.open("rb") as handle:
        first = handle.readline()
    try:
        parsed = orjson.loads(first)
    except orjson.JSONDecodeError:
        return "document"  # a pretty-printed document spans several lines
    return "document" if isinstance(parsed, dict) and "events" in parsed else "lines"


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """Stream the events of `path` (JSON lines are never held in memory all at once)."""
    if file_kind(path) == "document":
        try:
            document = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise QueryFailed(
                f"cannot read {path}",
                f"not JSON lines nor a JSON document: {exc}",
                "check the file",
            ) from None
        events = document.get("events") if isinstance(document, dict) else None
        if not isinstance(events, list):
            raise QueryFailed(
                f"cannot read {path}", "the JSON document has no `events` array", "check the file"
            )
        for index, event in enumerate(events):
            yield _check(event, f"events[{index}] of {path}")
        return
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise QueryFailed(
                    f"line {number} of {path} is not JSON",
                    str(exc),
                    "one CloudWatch event per line",
                ) from None
            yield _check(event, f"line {number} of {path}")


def write_events(events: Iterable[dict[str, Any]], path: Path) -> int:
    """Write events as JSON lines (the --file format). Returns how many were written."""
    keys = ("timestamp", "message", "logStreamName", "ingestionTime", "eventId")
    count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as handle:
        for event in events:
            handle.write(orjson.dumps({k: event[k] for k in keys if k in event}) + b"\n")
            count += 1
    tmp.replace(path)
    return count
