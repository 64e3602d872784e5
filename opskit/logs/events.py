"""Reading and writing exported CloudWatch log events: the one reader every command uses.

Accepted files (`--file PATH`), told apart by their first non-blank line:

* JSON lines of CloudWatch events, one per line: {"timestamp": <epoch ms>, "message": "...",
  "logStreamName", "ingestionTime", "eventId", "logGroupName"} (timestamp and message
  required) - what `opskit logs export` writes;
* one JSON document with an `events` array - what `aws logs filter-log-events` prints
  (pretty-printed or not);
* raw JSON lines, one JSON object per line without the CloudWatch wrapper (an application's
  own stdout): each line becomes the message of an event whose timestamp is the object's
  numeric `timestamp` (epoch ms) when it has one, else none (@timestamp 0). An object with
  `message` and an integer (or no) `timestamp` is taken as a CloudWatch event, one with only
  CloudWatch event keys but no `message` is a broken event (an error);
* an empty file (what an export of a quiet window writes): no events.

Every problem is an `EventsError` naming the file and line, why, and what to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import orjson

from opskit.errors import ConfigError, NotFoundError

Format = Literal["lines", "document", "raw", "empty"]
EVENT_KEYS = ("timestamp", "message", "logStreamName", "ingestionTime", "eventId", "logGroupName")


class EventsError(ConfigError):
    """An events file that cannot be read: which file (and line), why, what to do."""


def _missing(path: Path) -> NotFoundError:
    return NotFoundError(
        f"no such file {path}",
        "cannot read events",
        "pass --file PATH to an export of log events (`opskit logs export --out FILE`)",
    )


def _first_line(path: Path) -> bytes:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                return line.strip()
    return b""


def _is_event(value: Any) -> bool:
    if not isinstance(value, dict) or "message" not in value:
        return False
    stamp = value.get("timestamp")
    return stamp is None or (isinstance(stamp, int) and not isinstance(stamp, bool))


def file_format(path: Path) -> Format:
    if not path.is_file():
        raise _missing(path)
    first = _first_line(path)
    if not first:
        return "empty"
    try:
        value = orjson.loads(first)
    except orjson.JSONDecodeError:
        if first.startswith(b"{"):
            return "document"  # a pretty-printed document spans several lines
        raise EventsError(
            f"{path}:1 is not JSON",
            "expected one CloudWatch event per line, or a document with an `events` array",
            "export with `opskit logs export --out FILE` or `aws logs filter-log-events`",
        ) from None
    if isinstance(value, dict) and "events" in value and "message" not in value:
        return "document"
    if _is_event(value):
        return "lines"
    if isinstance(value, dict) and not set(value) <= set(EVENT_KEYS):
        return "raw"  # not an event missing its message: an application's own JSON line
    raise EventsError(
        f"{path}:1 is not a log event",
        'expected {"timestamp": <epoch ms>, "message": "..."} or a JSON object per line',
        "export with `opskit logs export --out FILE`",
    )


def read_events(path: Path, fmt: Format | None = None) -> Iterator[dict[str, Any]]:
    """Every event of `path` as a CloudWatch event dict; JSON lines are streamed."""
    fmt = fmt or file_format(path)
    if fmt == "empty":
        return
    if fmt == "document":
        yield from _document_events(path)
        return
    loads, decode_error = orjson.loads, orjson.JSONDecodeError  # the hot loop: locals
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                value = loads(raw)  # orjson skips the surrounding whitespace itself
            except decode_error as exc:
                if not raw.strip():
                    continue
                raise EventsError(
                    f"{path}:{number} is not JSON",
                    f"expected one {'CloudWatch event' if fmt == 'lines' else 'JSON object'} per line ({exc})",
                    "fix or drop that line; export with `opskit logs export --out FILE`",
                ) from None
            if fmt == "raw":
                if not isinstance(value, dict):
                    raise EventsError(
                        f"{path}:{number} is not a JSON object",
                        "raw JSON lines hold one object per line",
                        "fix or drop that line",
                    )
                stamp = value.get("timestamp")
                event: dict[str, Any] = {"message": raw.strip().decode("utf-8", "replace")}
                if isinstance(stamp, int) and not isinstance(stamp, bool):
                    event["timestamp"] = stamp
                yield event
                continue
            # _is_event inlined (orjson gives exact dicts and ints; `type is int` excludes bool)
            if type(value) is dict and "message" in value:
                stamp = value.get("timestamp")
                if stamp is None or type(stamp) is int:
                    yield value
                    continue
            raise EventsError(
                f"{path}:{number} is not a log event",
                'expected {"timestamp": <epoch ms>, "message": "..."}',
                "export with `opskit logs export --out FILE` or `aws logs filter-log-events`",
            )


def _document_events(path: Path) -> Iterator[dict[str, Any]]:
    try:
        document = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise EventsError(
            f"cannot read {path}",
            f"not JSON lines nor a JSON document ({exc})",
            "check the file: `aws logs filter-log-events ... > FILE` writes a document",
        ) from None
    events = document.get("events") if isinstance(document, dict) else None
    if not isinstance(events, list):
        raise EventsError(
            f"{path}: `events` is not a list",
            'expected {"events": [{"timestamp": ms, "message": "..."}]}',
            "fix the export",
        )
    for index, event in enumerate(events):
        if not _is_event(event):
            raise EventsError(
                f"{path}: events[{index}] is not a log event",
                'expected {"timestamp": <epoch ms>, "message": "..."}',
                "fix the export",
            )
        yield event


def write_events(events: Iterable[Mapping[str, Any]], path: Path) -> int:
    """Write events as JSON lines (the --file format), atomically. Returns how many."""
    count = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("wb") as handle:
        for event in events:
            kept = {k: event[k] for k in EVENT_KEYS if event.get(k) is not None}
            handle.write(orjson.dumps(kept) + b"\n")
            count += 1
    tmp.replace(path)
    return count
