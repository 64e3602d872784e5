"""The query library loader and the event-file reader/writer."""

from __future__ import annotations

import json

import pytest

from opskit.errors import ConfigError, QueryFailed
from opskit.insights.engine import run_file
from opskit.insights.library import load_library, parse_file
from opskit.logs import platform
from opskit.logs.events import EventsError, read_events, write_events
from opskit.logs.fields import platform_fields as _fields
from opskit.logs.fields import record
from tests.opskit.insights.conftest import event, write


def platform_fields(message):
    return _fields(platform.parse(message))


def test_library_file_metadata_and_parameters(tmp_path):
    path = tmp_path / "q.insights"
    path.write_text(
        "# name: q\n# description: d\n# log-group: access\n# param: n=5 (how many)\n# source: docs\nfields @message\n| limit {n}\n"
    )
    query = parse_file(path)
    assert (query.name, query.description, query.log_group, query.source) == (
        "q",
        "d",
        "access",
        "docs",
    )
    assert (
        query.params[0].name == "n"
        and query.params[0].default == "5"
        and query.params[0].help == "how many"
    )
    assert query.render().endswith("| limit 5\n")
    assert query.render({"n": "7"}).endswith("| limit 7\n")
    with pytest.raises(ConfigError):
        query.render({"n": "7 | fields secret"})
    with pytest.raises(ConfigError):
        query.render({"m": "1"})
    path.write_text("# log-group: nowhere\nfields a\n")
    with pytest.raises(ConfigError):
        parse_file(path)
    with pytest.raises(ConfigError):
        load_library(tmp_path)  # one bad file is reported, not skipped


def test_platform_lines_and_json_records():
    report = "REPORT RequestId: 3f1c-1\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 512 MB\tMax Memory Used: 81 MB\tInit Duration: 312.45 ms\t"
    fields = platform_fields(report)
    assert fields == {
        "@type": "REPORT",
        "@requestId": "3f1c-1",
        "@duration": 12.34,
        "@billedDuration": 13,
        "@memorySize": 512_000_000,
        "@maxMemoryUsed": 81_000_000,
        "@initDuration": 312.45,
    }
    assert platform_fields("START RequestId: abc Version: $LATEST") == {
        "@type": "START",
        "@requestId": "abc",
    }
    assert platform_fields("END RequestId: abc") == {"@type": "END", "@requestId": "abc"}
    assert platform_fields("2026-11-24T10:00:00.123Z abc Task timed out after 30.03 seconds") == {}
    row = record(
        {
            "timestamp": 5,
            "message": '{"a": {"b": [1, {"c": true}]}, "n": null}',
            "logStreamName": "s",
        },
        "grp",
    )
    assert row["a.b.0"] == 1 and row["a.b.1.c"] == 1 and "n" not in row
    assert (row["@logStream"], row["@log"], int(row["@timestamp"])) == ("s", "000000000000:grp", 5)


def test_read_and_write_events(tmp_path):
    events = [event(0, "a"), event(1, {"b": 1})]
    out = tmp_path / "out.jsonl"
    assert write_events(events + [{**event(2, "c"), "eventId": "e3", "junk": 1}], out) == 3
    back = list(read_events(out))
    assert back[0] == events[0] and back[2]["eventId"] == "e3" and "junk" not in back[2]
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps({"events": events}))
    assert list(read_events(doc)) == events
    doc.write_text(json.dumps({"events": [{"timestamp": "soon", "message": "bad timestamp"}]}))
    with pytest.raises(EventsError) as info:
        list(read_events(doc))
    assert "events[0]" in str(info.value)


def test_duckdb_rejects_a_regex_so_python_answers(tmp_path):
    path = write(tmp_path / "e.jsonl", [event(0, "ab"), event(1, "ac")])
    # RE2 (DuckDB) has no lookahead; the Python engine runs the query instead.
    result = run_file("filter @message like /a(?=b)/", path)
    assert result.engine == "python"
    assert [r["@message"] for r in result.rows] == ["ab"]
    with pytest.raises(QueryFailed):
        run_file("filter @message like /a(?=b)/", path, engine="duckdb")


def test_one_paginator_for_insights_cost_and_the_demo(clients):
    """opskit.logs.cloudwatch.filter_events follows every page on moto; the demo counts with it."""
    from opskit.demo.__main__ import count_access_lines
    from opskit.errors import NotFoundError
    from opskit.logs.cloudwatch import filter_events

    logs = clients.client("logs")
    group = "/aws/lambda/opskit-paginator"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    lines = ['{"message": "request", "status": 200}', "START RequestId: x"] * 30
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": 1_795_000_000_000 + i, "message": m} for i, m in enumerate(lines)],
    )
    assert len(list(filter_events(logs, group, page_size=7))) == 60
    assert count_access_lines(logs, group) == 30
    assert count_access_lines(logs, "/aws/lambda/none") == 0
    with pytest.raises(NotFoundError):
        list(filter_events(logs, "/aws/lambda/none"))
