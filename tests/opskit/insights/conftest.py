"""Helpers: write CloudWatch events to a JSON-lines file and run a query on both local engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opskit.insights.engine import Result, run_file

T0 = 1_795_000_000_000  # 2026-11-18 11:06:40.000 UTC


def event(offset_ms: int, message: object, stream: str = "stream-a", **extra: object) -> dict:
    text = message if isinstance(message, str) else json.dumps(message)
    return {
        "timestamp": T0 + offset_ms,
        "message": text,
        "logStreamName": stream,
        "ingestionTime": T0 + offset_ms + 100,
        **extra,
    }


def write(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


@pytest.fixture(params=["python", "duckdb"])
def engine(request) -> str:
    """Every semantic test runs on both engines: they must give the same answers."""
    return request.param


@pytest.fixture
def run(tmp_path, engine):
    def runner(query: str, events: list[dict], **kwargs) -> Result:
        path = write(tmp_path / "events.jsonl", events)
        result = run_file(query, path, engine=engine, **kwargs)
        assert result.engine == engine
        return result

    return runner
