"""Parity with CloudWatch Logs Insights: validity rules, regex dialect, discovered fields,
input formats and the engine disagreements the review found. Both backends run each case."""

from __future__ import annotations

import json

import pytest

from opskit.insights.engine import run_events, run_file
from opskit.insights.parser import QuerySyntaxError, parse_query
from opskit.insights.pipeline import validate
from tests.opskit.insights.conftest import T0, event, write

# ---- AWS's validity rules -------------------------------------------------------------


@pytest.mark.parametrize(
    "query, message",
    [
        (
            "stats count(*) as a by x | stats count(*) as b by a | stats count(*) as c by b",
            "at most 2 stats commands",
        ),
        (
            "stats count(*) as a by x | sort a | stats count(*) by a",
            "sort is not allowed between two stats",
        ),
        ("dedup x | fields x", "only the limit command is allowed after the dedup command"),
        ("dedup x | sort x", "only the limit command is allowed after the dedup command"),
    ],
)
def test_aws_rejects_these_and_so_do_we(query, message):
    with pytest.raises(QuerySyntaxError, match=message):
        validate(parse_query(query))
    with pytest.raises(QuerySyntaxError):
        run_events(query, [])


def test_what_aws_allows_still_runs(run):
    events = [event(i, {"x": i % 3, "y": i}) for i in range(9)]
    assert run("dedup x | limit 2", events).rows
    two = run("stats count(*) as n by x | stats count(*) as groups", events).rows
    assert two == [{"groups": "3"}]


# ---- regular expressions as CloudWatch reads them --------------------------------------


def test_inline_flag_after_the_start(run):
    # Documented pattern (filter command page): /^(?i)Exception$/ ... opskit used to reject it.
    events = [event(0, "EXCEPTION"), event(1, "exception"), event(2, "no Exception here")]
    rows = run("filter @message like /^(?i)Exception$/ | fields @message", events).rows
    assert sorted(r["@message"] for r in rows) == ["EXCEPTION", "exception"]
    mid = run("filter @message like /no (?i)EXCEPTION here/ | fields @message", events).rows
    assert [r["@message"] for r in mid] == ["no Exception here"]


def test_posix_classes_match_on_both_backends(run):
    events = [event(0, "ABC"), event(1, "abc"), event(2, "A1")]
    rows = run("filter @message like /^[[:upper:]]+$/ | fields @message", events).rows
    assert [r["@message"] for r in rows] == ["ABC"]
    digits = run(
        "parse @message /(?<d>[[:digit:]]+)/ | filter ispresent(d) | fields d", events
    ).rows
    assert digits == [{"d": "1"}]


# ---- Lambda logs as Lambda writes them ---------------------------------------------------

# AWS Lambda developer guide, "Working with Lambda function logs" (text format, Ruby/Node):
REPORT = (
    "REPORT RequestId: 8f507cfc-xmpl-4697-b07a-ac58fc914c95\tDuration: 2.75 ms\tBilled Duration: 117 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 56 MB\tInit Duration: 113.51 ms\t\n"
    "XRAY TraceId: 1-5e34a66a-474xmpl7c2534a87870b4370\tSegmentId: 073cxmpl3e442861\tSampled: true\t\n"
)
# ... and the JSON log format's platform.report record (LoggingConfig LogFormat=JSON).
REPORT_JSON = {
    "time": "2023-11-22T16:00:00.000Z",
    "type": "platform.report",
    "record": {
        "requestId": "8f507cfc-xmpl-4697-b07a-ac58fc914c95",
        "metrics": {
            "durationMs": 2.75,
            "billedDurationMs": 117,
            "memorySizeMB": 128,
            "maxMemoryUsedMB": 56,
            "initDurationMs": 113.51,
        },
        "tracing": {
            "spanId": "073cxmpl3e442861",
            "type": "X-Amzn-Trace-Id",
            "value": "Root=1-5e34a66a-474xmpl7c2534a87870b4370;Parent=073cxmpl3e442861;Sampled=1",
        },
        "status": "success",
    },
}
PLATFORM_QUERY = (
    "filter @type = 'REPORT' | fields @requestId, @duration, @billedDuration, @memorySize, "
    "@maxMemoryUsed, @initDuration, @xrayTraceId, @xraySegmentId"
)
PLATFORM_ROW = {
    "@requestId": "8f507cfc-xmpl-4697-b07a-ac58fc914c95",
    "@duration": "2.75",
    "@billedDuration": "117",
    "@memorySize": "128000000",
    "@maxMemoryUsed": "56000000",
    "@initDuration": "113.51",
    "@xrayTraceId": "1-5e34a66a-474xmpl7c2534a87870b4370",
    "@xraySegmentId": "073cxmpl3e442861",
}


@pytest.mark.parametrize("message", [REPORT, json.dumps(REPORT_JSON)], ids=["text", "json"])
def test_report_fields_in_both_log_formats(run, message):
    assert run(PLATFORM_QUERY, [event(0, message)]).rows == [PLATFORM_ROW]


def test_text_format_application_line_has_its_json_discovered(run):
    # Lambda text format (Node.js runtime): <time>\t<request id>\t<level>\t<message>.
    line = '2023-11-22T16:00:00.000Z\t79b4f56e-95b1-4643-9700-2807f4e68189\tINFO\t{"msg": "hello", "status": 503}'
    python_style = '[ERROR]\t2023-11-22T16:00:00.000Z\t79b4f56e\t{"msg": "boom", "status": 500}'
    rows = run(
        "filter status >= 500 | fields msg, status", [event(0, line), event(1, python_style)]
    ).rows
    assert rows == [{"msg": "boom", "status": "500"}, {"msg": "hello", "status": "503"}]


def test_at_keys_ptr_and_log_identifier(run):
    events = [event(0, {"@example.com": "x", "a.b": 7, "plain": 1}, logGroupName="/aws/lambda/g")]
    rows = run("fields `@@example.com`, `a.b`, @log, @ptr, @example.com", events).rows
    assert rows[0]["@@example.com"] == "x" and rows[0]["a.b"] == "7"
    assert rows[0]["@log"] == "000000000000:/aws/lambda/g"  # documented: account-id:log-group
    assert len(rows[0]["@ptr"]) == 32 and "@example.com" not in rows[0]


def test_ptr_is_the_same_on_both_backends(tmp_path):
    events = [event(i, f"line {i}") for i in range(3)]
    path = write(tmp_path / "e.jsonl", events)
    query = "fields @ptr | sort @timestamp"
    assert (
        run_file(query, path, engine="python").rows == run_file(query, path, engine="duckdb").rows
    )


# ---- input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("content", ["", "\n\n"])
def test_an_empty_export_is_zero_rows(tmp_path, engine, content):
    path = tmp_path / "quiet.jsonl"
    path.write_text(content)
    result = run_file("stats count(*) as n by path", path, engine=engine)
    assert result.rows == [] and result.columns == ["path", "n"]
    assert run_file("fields @message", path, engine=engine).rows == []


def test_raw_json_lines_without_the_wrapper(tmp_path, engine):
    path = tmp_path / "stdout.jsonl"
    path.write_text(
        '{"level": "INFO", "status": 200, "timestamp": 5}\n{"level": "ERROR", "status": 502}\n'
    )
    rows = run_file("filter status > 300 | fields level, status", path, engine=engine).rows
    assert rows == [{"level": "ERROR", "status": "502"}]
    every = run_file("stats count(*) as n", path, engine=engine).rows
    assert every == [{"n": "2"}]


def test_document_runs_on_duckdb_when_asked(tmp_path):
    path = tmp_path / "doc.json"
    path.write_text(json.dumps({"events": [event(0, {"a": 1})]}, indent=2))
    assert run_file("fields a", path, engine="duckdb").engine == "duckdb"


# ---- the engine disagreements of the review ---------------------------------------------------


def test_dotted_json_key_on_both(run):
    rows = run(
        "fields `a.b` as v", [event(0, {"a.b": "dotted"}), event(1, {"a": {"b": "nested"}})]
    ).rows
    assert sorted(r["v"] for r in rows) == ["dotted", "nested"]


def test_big_integers_print_the_same(run):
    rows = run("fields n + 0 as v, n", [event(0, {"n": 10**15 + 1})]).rows
    assert rows == [{"v": "1000000000000001", "n": "1000000000000001"}]


def test_explicit_engine_beats_the_environment(tmp_path, monkeypatch):
    path = write(tmp_path / "e.jsonl", [event(0, {"a": 1})])
    monkeypatch.setenv("OPSKIT_INSIGHTS_ENGINE", "python")
    assert run_file("fields a", path, engine="duckdb").engine == "duckdb"
    assert run_file("fields a", path).engine == "python"
    monkeypatch.setenv("OPSKIT_INSIGHTS_ENGINE", "duckdb")
    assert run_file("fields a", path).engine == "duckdb"
    assert run_file("fields a", path, engine="python").engine == "python"


# ---- the columnar cache -------------------------------------------------------------------------


def test_cache_answers_the_same_and_is_invalidated(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSKIT_CACHE_DIR", str(tmp_path / "cache"))
    events = [event(i, {"status": 200 + i % 2, "path": f"/p{i % 3}"}) for i in range(30)]
    path = write(tmp_path / "e.jsonl", events)
    query = "stats count(*) as n by status | sort status"
    cold = run_file(query, path, engine="duckdb", cache=True)
    warm = run_file(query, path, engine="duckdb", cache=True)
    plain = run_file(query, path, engine="python")
    assert cold.rows == warm.rows == plain.rows and warm.cached
    assert len(list((tmp_path / "cache").glob("*.duckdb"))) == 1
    other = run_file(
        "fields path, status | sort path desc | limit 1", path, engine="duckdb", cache=True
    )
    assert (
        other.rows
        == run_file("fields path, status | sort path desc | limit 1", path, engine="python").rows
    )
    write(path, events + [event(99, {"status": 500, "path": "/x"})])  # the file changes
    fresh = run_file(query, path, engine="duckdb", cache=True)
    assert fresh.rows[-1] == {"status": "500", "n": "1"}
    assert len(list((tmp_path / "cache").glob("*.duckdb"))) == 1  # the stale entry is gone


def test_cli_no_cache_and_functions(tmp_path, monkeypatch):
    from tests.opskit.insights.test_commands import invoke

    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "e.jsonl", [event(0, {"a": 1})])
    result = invoke(
        "insights",
        "run",
        "--query",
        "fields a",
        "--file",
        str(path),
        "--engine",
        "duckdb",
        "--no-cache",
    )
    assert result.exit_code == 0, result.output
    assert not (tmp_path / ".opskit" / "cache").exists()
    result = invoke(
        "insights", "run", "--query", "fields a", "--file", str(path), "--engine", "duckdb"
    )
    assert result.exit_code == 0 and list((tmp_path / ".opskit" / "cache").glob("*.duckdb"))
    listed = invoke("insights", "functions", "--format", "json")
    names = {row["function"].split("(")[0] for row in json.loads(listed.output)}
    assert {"isIpv4InSubnet", "jsonParse", "sortsFirst", "if", "trim"} <= names
    assert T0


def test_cache_keeps_platform_records_and_fragments(tmp_path, monkeypatch):
    monkeypatch.setenv("OPSKIT_CACHE_DIR", str(tmp_path / "cache"))
    line = '2023-11-22T16:00:00.000Z\tr1\tINFO\t{"a": 5}'
    path = write(tmp_path / "e.jsonl", [event(0, REPORT_JSON), event(1, line), event(2, {"a": 1})])
    for query in [
        "fields @duration, a, @type | sort @timestamp",
        "stats sum(a) as s, max(@duration) as d",
    ]:
        cached = run_file(query, path, engine="duckdb", cache=True).rows
        assert cached == run_file(query, path, engine="python").rows
        assert cached == run_file(query, path, engine="duckdb", cache=True).rows


@pytest.mark.parametrize(
    "query, needed",
    [
        ("stats count(*) by path", False),
        ("filter status >= 500 | stats count(*) as n by bin(1m)", False),
        ("filter @message like /x/ | stats count(*)", True),
        ("sort status | limit 3 | stats count(*)", True),
        ("fields @timestamp, @message", True),
        ("fields jsonParse(@message) as j | stats count(*) by j.a", True),
    ],
)
def test_which_queries_need_the_messages_cached(query, needed):
    from opskit.logs.columnar import needs_messages

    assert needs_messages(parse_query(query)) is needed


def test_cache_stores_messages_only_when_read_and_recovers_a_wrong_guess(tmp_path, monkeypatch):
    import opskit.logs.columnar as columnar

    monkeypatch.setenv("OPSKIT_CACHE_DIR", str(tmp_path / "cache"))
    events = [event(i, {"status": 200 + 300 * (i % 2), "path": f"/p{i % 3}"}) for i in range(20)]
    path = write(tmp_path / "e.jsonl", events)
    stats = "stats count(*) as n by path"
    assert (
        run_file(stats, path, engine="duckdb", cache=True).rows
        == run_file(stats, path, engine="python").rows
    )
    monkeypatch.setattr(columnar, "needs_messages", lambda query: False)  # a wrong guess
    query = 'filter @message like /"status": 5/ | stats count(*) as n by path'
    got = run_file(query, path, engine="duckdb", cache=True)
    assert got.rows == run_file(query, path, engine="python").rows and got.rows


def test_no_cache_directory_means_no_cache_not_an_error(tmp_path, monkeypatch):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    monkeypatch.setenv("OPSKIT_CACHE_DIR", str(blocked / "cache"))  # cannot be created
    path = write(tmp_path / "e.jsonl", [event(0, {"a": 1})])
    result = run_file("fields a", path, engine="duckdb", cache=True)
    assert result.rows == [{"a": "1"}] and not result.cached
