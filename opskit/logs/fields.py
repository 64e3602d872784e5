"""The fields Logs Insights discovers in one event, for the Python backend; the DuckDB
backend derives the same fields in SQL from the same patterns (see FRAGMENT_PATTERN and
opskit.logs.platform's *_PATTERN constants, all RE2-compatible).

As documented ("Supported logs and discovered fields"):
* @message, @timestamp, @ingestionTime, @logStream, and @log as `account-id:log-group`;
* @ptr, an opaque pointer to the event (here: a stable hash of group, stream, time, message);
* a JSON message is flattened (`a.b`, arrays `a.0`); so is the JSON fragment at the end of a
  Lambda text-format application line (`<time>\t<request id>\tINFO\t{...}`); a discovered
  key starting with `@` is shown as `@@key`; JSON booleans are 1/0, null is absent;
* Lambda platform lines, text or JSON format (platform.py): @type, @requestId, @duration,
  @billedDuration, @memorySize and @maxMemoryUsed (bytes, 1 MB = 1,000,000), @initDuration,
  and @xrayTraceId / @xraySegmentId from the XRAY line of a REPORT event.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from opskit.insights.values import Timestamp
from opskit.logs import platform

MB = 1_000_000  # Insights exposes memory in bytes (AWS's sample queries divide by 1000*1000)
UNKNOWN_ACCOUNT = "000000000000"  # an exported file does not say which account it came from
# A Lambda text-format application line: up to three tab-separated prefix fields
# (time, request id, level - in either runtime's order), then a JSON object to the end.
FRAGMENT_PATTERN = r"^(?:[^\t{]*\t){1,3}(\{.*\})\s*$"
_FRAGMENT = re.compile(FRAGMENT_PATTERN, re.DOTALL)
PLATFORM_FIELDS = (
    "@type",
    "@requestId",
    "@duration",
    "@billedDuration",
    "@memorySize",
    "@maxMemoryUsed",
    "@initDuration",
    "@xrayTraceId",
    "@xraySegmentId",
)
POINTER_SEPARATOR = "\x1f"
BUILTIN_FIELDS = ("@timestamp", "@message", "@logStream", "@log", "@ingestionTime", "@ptr")


def json_part(message: str) -> str | None:
    """The JSON text fields are discovered in: the message, or its trailing JSON fragment."""
    stripped = message.lstrip()
    if stripped.startswith("{"):
        return stripped
    if "\t{" in message:
        match = _FRAGMENT.match(message)
        if match:
            return match.group(1)
    return None


def flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            key = str(key)
            if not prefix and key.startswith("@"):
                key = "@" + key  # documented: a discovered `@example` shows as `@@example`
            flatten(item, f"{prefix}.{key}" if prefix else key, out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            flatten(item, f"{prefix}.{index}" if prefix else str(index), out)
    elif value is None:
        return  # JSON null: the field is absent
    elif isinstance(value, bool):
        out[prefix] = 1 if value else 0
    else:
        out[prefix] = value


def platform_fields(line: platform.Line | None) -> dict[str, Any]:
    if isinstance(line, platform.Report):
        out: dict[str, Any] = {
            "@type": "REPORT",
            "@requestId": line.request_id,
            "@duration": _num(line.duration_ms),
            "@billedDuration": _num(line.billed_ms),
            "@memorySize": line.memory_mb * MB,
        }
        if line.max_memory_mb is not None:
            out["@maxMemoryUsed"] = line.max_memory_mb * MB
        if line.init_ms is not None:
            out["@initDuration"] = _num(line.init_ms)
        if line.xray is not None:
            out["@xrayTraceId"] = line.xray.trace_id
            if line.xray.segment_id:
                out["@xraySegmentId"] = line.xray.segment_id
        return out
    if isinstance(line, platform.Start):
        return {"@type": "START", "@requestId": line.request_id}
    if isinstance(line, platform.End):
        return {"@type": "END", "@requestId": line.request_id}
    if isinstance(line, platform.Xray):
        out = {"@type": "XRAY", "@xrayTraceId": line.trace_id}
        if line.segment_id:
            out["@xraySegmentId"] = line.segment_id
        return out
    return {}


def is_platform_record(document: dict[str, Any]) -> bool:
    kind = document.get("type")
    return isinstance(kind, str) and kind.startswith("platform.")


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def log_identifier(group: str | None, account_id: str | None = None) -> str | None:
    if group is None:
        return None
    return f"{account_id or UNKNOWN_ACCOUNT}:{group}"


def pointer(group: str | None, stream: str | None, timestamp: int, message: str) -> str:
    """@ptr: opaque and stable for one event (the same in both backends)."""
    key = POINTER_SEPARATOR.join((group or "", stream or "", str(timestamp), message))
    return hashlib.md5(key.encode("utf-8", "surrogatepass")).hexdigest()


def record(
    event: dict[str, Any], log_group: str | None = None, account_id: str | None = None
) -> dict[str, Any]:
    """One CloudWatch event -> the row of fields a query sees."""
    message = event.get("message")
    if not isinstance(message, str):
        message = "" if message is None else str(message)
    row: dict[str, Any] = {}
    text = json_part(message)
    document = None
    if text is not None:
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError:
            document = None
        if isinstance(document, dict):
            flatten(document, "", row)
    if document is None or (isinstance(document, dict) and is_platform_record(document)):
        line = (
            platform.from_record(document)
            if isinstance(document, dict)
            else platform.parse(message)
        )
        row.update(platform_fields(line))
    stamp = event.get("timestamp") or 0
    row["@message"] = message
    row["@timestamp"] = Timestamp(stamp)
    stream = event.get("logStreamName")
    if stream is not None:
        row["@logStream"] = stream
    group = event.get("logGroupName") or log_group
    if group is not None:
        row["@log"] = log_identifier(group, account_id)
    if event.get("ingestionTime") is not None:
        row["@ingestionTime"] = Timestamp(event["ingestionTime"])
    row["@ptr"] = pointer(group, stream, stamp, message)
    return row
