"""Semantics CloudWatch documents (default limit, ordering) and the choices we documented
where it does not (missing fields, mixed comparisons, booleans, dedup), on both engines."""

from __future__ import annotations

import pytest

from opskit.insights.engine import run_events
from tests.opskit.insights.conftest import event

EVENTS = [
    event(
        0,
        {
            "path": "/a",
            "latency_ms": 10,
            "status": 200,
            "ok": True,
            "user": {"id": "u1", "tags": ["x", "y"]},
        },
    ),
    event(1000, {"path": "/b", "latency_ms": 2000.5, "status": "503", "ok": False}),
    event(2000, {"path": "/a", "latency_ms": "fast", "status": 200, "note": None}),
    event(3000, "plain text line 42"),
]


def test_default_limit_is_10000_rows(run):
    events = [event(i, f"m{i}") for i in range(10_001)]
    result = run("fields @message", events)
    assert len(result.rows) == 10_000
    assert result.rows[0]["@message"] == "m10000"  # newest first
    assert len(run("fields @message", events, limit=3).rows) == 3


def test_unsorted_events_come_newest_first_and_stats_by_group(run):
    assert [r["@message"][:5] for r in run("filter ispresent(@message)", EVENTS).rows] == [
        "plain",
        '{"pat',
        '{"pat',
        '{"pat',
    ]
    rows = run("stats count(*) as n by path", EVENTS).rows
    assert rows == [
        {"path": "/a", "n": "2"},
        {"path": "/b", "n": "1"},
        {"n": "1"},
    ]  # missing group last


def test_missing_fields_drop_the_event_even_for_not_equal(run):
    assert [r["path"] for r in run("filter path != '/a' | fields path", EVENTS).rows] == ["/b"]
    assert len(run("filter not (nothing = 1)", EVENTS).rows) == 0
    assert len(run("filter ispresent(note)", EVENTS).rows) == 0  # JSON null is absent
    assert len(run("filter isempty(note)", EVENTS).rows) == 4
    assert [
        r["v"]
        for r in run(
            "fields coalesce(nothing, path, 'none') as v | sort @timestamp asc", EVENTS
        ).rows
    ] == ["/a", "/b", "/a", "none"]


def test_numbers_and_numeric_strings_compare_as_numbers(run):
    assert [r["path"] for r in run("filter status >= 500 | fields path", EVENTS).rows] == ["/b"]
    assert [r["path"] for r in run("filter status = '503' | fields path", EVENTS).rows] == ["/b"]
    # A non-numeric string against a number: never equal, never ordered, always `!=`.
    assert len(run("filter latency_ms > 5", EVENTS).rows) == 2
    assert len(run("filter latency_ms != 5 | filter path = '/a'", EVENTS).rows) == 2
    assert len(run("filter latency_ms = 'fast'", EVENTS).rows) == 1


def test_json_flattening_booleans_and_arithmetic(run):
    rows = run(
        "filter path = '/a' and ispresent(user.id) | fields user.id, user.tags.1, ok, latency_ms * 2 + 1 as x, 7 % 4 as m, 2 ^ 10 as p",
        EVENTS,
    ).rows
    assert rows == [
        {"user.id": "u1", "user.tags.1": "y", "ok": "1", "x": "21", "m": "3", "p": "1024"}
    ]
    assert run("stats sum(ok) as oks, count(ok) as n, sum(latency_ms) as total", EVENTS).rows == [
        {"oks": "1", "n": "2", "total": "2010.5"}
    ]
    assert run(
        "filter path = '/b' | fields latency_ms / 0 as z, log(0) as l, sqrt(16) as s", EVENTS
    ).rows == [{"s": "4"}]


def test_string_functions(run):
    query = (
        "filter path = '/b' | fields toupper(path) as u, strlen(path) as n, concat(path, ':', status, missing) as c, "
        "substr('abcdef', 2, 3) as s, substr('abcdef', 4) as t, replace('a-b-c', '-', '+') as r, "
        "strcontains(path, 'b') as has, trim('  x  ') as tr, ltrim('  x') as lt, rtrim('x  ') as rt, isblank('  ') as b"
    )
    assert run(query, EVENTS).rows == [
        {
            "u": "/B",
            "n": "2",
            "c": "/b:503",
            "s": "cde",
            "t": "ef",
            "r": "a+b+c",
            "has": "1",
            "tr": "x",
            "lt": "x",
            "rt": "x",
            "b": "1",
        }
    ]


def test_numeric_and_time_functions(run):
    query = (
        "filter path = '/b' | fields abs(-3) as a, ceil(1.2) as c, floor(1.8) as f, greatest(1, latency_ms, 3) as g, "
        "least(4, 2, missing) as l, datefloor(@timestamp, 1h) as df, dateceil(@timestamp, 1h) as dc, "
        "toMillis(@timestamp) as ms, fromMillis(0) as epoch, bin(1d) as day"
    )
    assert run(query, EVENTS).rows == [
        {
            "a": "3", "c": "2", "f": "1", "g": "2000.5", "l": "2",
            "df": "2026-11-18 11:00:00.000", "dc": "2026-11-18 12:00:00.000", "ms": "1795000001000",
            "epoch": "1970-01-01 00:00:00.000", "day": "2026-11-18 00:00:00.000",
        }
    ]  # fmt: skip


def test_calendar_bins(run):
    rows = run(
        "stats count(*) by bin(1mo), datefloor(@timestamp, 1y) as y, dateceil(@timestamp, 1q) as q",
        EVENTS,
    ).rows
    assert rows == [
        {
            "bin(1mo)": "2026-11-01 00:00:00.000",
            "y": "2026-01-01 00:00:00.000",
            "q": "2027-01-01 00:00:00.000",
            "count(*)": "4",
        }
    ]


def test_aggregates_count_distinct_earliest_latest_min_max(run):
    query = "stats count_distinct(path) as d, earliest(path) as first, latest(path) as last, min(latency_ms) as lo, max(latency_ms) as hi, count(path) as n"
    assert run(query, EVENTS).rows == [
        {"d": "2", "first": "/a", "last": "/a", "lo": "10", "hi": "2000.5", "n": "3"}
    ]


def test_stats_on_nothing_and_post_stats_commands(run):
    assert run("filter path = 'none' | stats count(*) as n, avg(latency_ms) as a", EVENTS).rows == [
        {"n": "0"}
    ]
    rows = run("stats count(*) as n by path | filter n > 1 | fields n * 10 as tens", EVENTS).rows
    assert rows == [{"path": "/a", "n": "2", "tens": "20"}]


def test_sort_missing_last_and_multiple_keys(run):
    rows = run("fields path, latency_ms | sort path desc, latency_ms asc", EVENTS).rows
    assert [(r.get("path"), r.get("latency_ms")) for r in rows] == [
        ("/b", "2000.5"),
        ("/a", "fast"),
        ("/a", "10"),
        (None, None),
    ]


def test_dedup_keeps_rows_missing_the_field(run):
    rows = run("fields path | dedup path", EVENTS).rows
    assert [r.get("path") for r in rows] == [None, "/a", "/b"]


def test_limit_then_sort_uses_default_order_first(run):
    rows = run("limit 2 | sort @timestamp asc | fields @timestamp", EVENTS).rows
    assert [r["@timestamp"] for r in rows] == ["2026-11-18 11:06:42.000", "2026-11-18 11:06:43.000"]


def test_parse_of_a_derived_field_and_no_match(run):
    rows = run(
        'parse @message "plain text line *" as n | filter n > 40 | fields n + 1 as next', EVENTS
    ).rows
    assert rows == [{"n": "42", "next": "43"}]  # parse fields are output columns too


def test_time_range_is_applied(run):
    rows = run(
        "fields @message", EVENTS, start_ms=EVENTS[1]["timestamp"], end_ms=EVENTS[2]["timestamp"]
    ).rows
    assert len(rows) == 2


@pytest.mark.parametrize("doc", [True, False])
def test_events_documents_and_json_lines_read_alike(tmp_path, doc):
    import json

    from opskit.insights.engine import run_file

    path = tmp_path / "e.json"
    if doc:
        path.write_text(json.dumps({"events": EVENTS, "searchedLogStreams": []}, indent=2))
    else:
        path.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    # --engine duckdb on a document used to run Python silently; now both formats run on it.
    result = run_file("stats count(*) as n by path", path, engine="duckdb")
    assert result.rows == run_events("stats count(*) as n by path", EVENTS).rows
    assert result.engine == "duckdb"


def test_ties_keep_the_previous_sort_order(run):
    events = [
        event(i, {"g": g, "n": n})
        for i, (g, n) in enumerate([("a", 2), ("b", 1), ("a", 1), ("b", 2)])
    ]
    rows = run("fields g, n | sort n desc | sort g asc", events).rows
    assert [(r["g"], r["n"]) for r in rows] == [("a", "2"), ("a", "1"), ("b", "2"), ("b", "1")]
