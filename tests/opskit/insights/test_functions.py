"""The function registry: every documented function has both implementations and a case.

Cases take their inputs and answers from the Logs Insights documentation where it gives
them ("Boolean, comparison, numeric, datetime, and other functions", the `stats` and
`unnest` pages, the sample queries); the rest follow the documented description. Every case
runs on both backends, which must agree with the expected rows.
"""

from __future__ import annotations

import pytest

from opskit.insights.functions import REGISTRY, Accumulator
from tests.opskit.insights.conftest import T0, event

MSG = {"a": "  hi  ", "n": -4.5, "ip4": "192.0.2.17", "ip6": "2001:db8::1", "s": "Exception!"}
ONE = [event(0, MSG)]

# name -> (query, events, expected rows)
CASES: dict[str, tuple[str, list[dict], list[dict[str, str]]]] = {
    "abs": ("fields abs(n) as v", ONE, [{"v": "4.5"}]),
    "ceil": ("fields ceil(n) as v", ONE, [{"v": "-4"}]),
    "floor": ("fields floor(n) as v", ONE, [{"v": "-5"}]),
    "greatest": ("fields greatest(n, 3, 1) as v", ONE, [{"v": "3"}]),
    "least": ("fields least(n, 3, 1) as v", ONE, [{"v": "-4.5"}]),
    "log": ("fields log(1) as v", ONE, [{"v": "0"}]),
    "sqrt": ("fields sqrt(16) as v", ONE, [{"v": "4"}]),
    "bin": (
        "stats count(*) as c by bin(1h) as t",
        ONE,
        [{"t": "2026-11-18 11:00:00.000", "c": "1"}],
    ),
    "datefloor": ("fields datefloor(@timestamp, 1h) as v", ONE, [{"v": "2026-11-18 11:00:00.000"}]),
    "dateceil": ("fields dateceil(@timestamp, 1h) as v", ONE, [{"v": "2026-11-18 12:00:00.000"}]),
    # Documented: toMillis(@timestamp) converts 2022-01-14T13:18:031.000-08:00 to 1642195111000.
    "frommillis": (
        "fields fromMillis(1642195111000) as v",
        ONE,
        [{"v": "2022-01-14 21:18:31.000"}],
    ),
    "tomillis": (
        "fields toMillis(@timestamp) as v",
        [{"timestamp": 1642195111000, "message": "x"}],
        [{"v": "1642195111000"}],
    ),
    "now": ("fields now() - @timestamp > 0 as v", ONE, [{"v": "1"}]),
    "ispresent": ("fields ispresent(a) as x, ispresent(zz) as y", ONE, [{"x": "1", "y": "0"}]),
    "coalesce": ("fields coalesce(zz, a) as v", ONE, [{"v": "  hi  "}]),
    "if": ("fields if(n < 0, 'neg', 'pos') as v, if(n > 0, 'pos') as w", ONE, [{"v": "neg"}]),
    # Documented (structure types): fields jsonParse(@message) as json_message | stats count() by json_message.status_code
    "jsonparse": (
        "fields jsonParse(@message) as json_message | stats count() as c by json_message.status_code",
        [
            event(0, {"status_code": 200}),
            event(1, {"status_code": 200}),
            event(2, {"status_code": 500}),
        ],
        [
            {"json_message.status_code": "200", "c": "2"},
            {"json_message.status_code": "500", "c": "1"},
        ],
    ),
    "jsonstringify": (
        "fields jsonStringify(jsonParse(@message)) as v",
        [event(0, '{"a": [1, {"b": true}]}')],
        [{"v": '{"a":[1,{"b":true}]}'}],
    ),
    "isvalidip": (
        "fields isValidIp(ip4) as x, isValidIp(ip6) as y, isValidIp(a) as z",
        ONE,
        [{"x": "1", "y": "1", "z": "0"}],
    ),
    "isvalidipv4": (
        "fields isValidIpV4(ip4) as x, isValidIpV4(ip6) as y",
        ONE,
        [{"x": "1", "y": "0"}],
    ),
    "isvalidipv6": (
        "fields isValidIpV6(ip4) as x, isValidIpV6(ip6) as y",
        ONE,
        [{"x": "0", "y": "1"}],
    ),
    # Documented CIDR examples: 192.0.2.0/24 and 2001:db8::/32.
    "isipinsubnet": (
        "fields isIpInSubnet(ip4, '192.0.2.0/24') as x, isIpInSubnet(ip6, '2001:db8::/32') as y",
        ONE,
        [{"x": "1", "y": "1"}],
    ),
    "isipv4insubnet": (
        "fields isIpv4InSubnet(ip4, '192.0.2.0/24') as x, isIpv4InSubnet(ip4, '198.51.100.0/24') as y",
        ONE,
        [{"x": "1", "y": "0"}],
    ),
    "isipv6insubnet": (
        "fields isIpv6InSubnet(ip6, '2001:db8::/32') as x, isIpv6InSubnet(ip4, '2001:db8::/32') as y",
        ONE,
        [{"x": "1", "y": "0"}],
    ),
    "isempty": ("fields isempty(zz) as x, isempty(a) as y", ONE, [{"x": "1", "y": "0"}]),
    "isblank": ("fields isblank(zz) as x, isblank(a) as y", ONE, [{"x": "1", "y": "0"}]),
    "concat": ("fields concat(s, '-', zz, n) as v", ONE, [{"v": "Exception!--4.5"}]),
    # Documented: with a second argument, trim removes the characters of string2 from the sides.
    "ltrim": ("fields ltrim(a) as v, ltrim(s, 'xE') as w", ONE, [{"v": "hi  ", "w": "ception!"}]),
    "rtrim": ("fields rtrim(a) as v, rtrim(s, '!n') as w", ONE, [{"v": "  hi", "w": "Exceptio"}]),
    "trim": ("fields trim(a) as v, trim(s, 'E!') as w", ONE, [{"v": "hi", "w": "xception"}]),
    "strlen": ("fields strlen(s) as v", ONE, [{"v": "10"}]),
    "toupper": ("fields toupper(s) as v", ONE, [{"v": "EXCEPTION!"}]),
    "tolower": ("fields tolower(s) as v", ONE, [{"v": "exception!"}]),
    "substr": (
        "fields substr(s, 2) as v, substr(s, 0, 3) as w",
        ONE,
        [{"v": "ception!", "w": "Exc"}],
    ),
    "replace": ("fields replace(s, 'Exception', 'Error') as v", ONE, [{"v": "Error!"}]),
    # Documented: strcontains returns 1 if string1 contains string2 and 0 otherwise.
    "strcontains": (
        "fields strcontains(s, 'cept') as x, strcontains(s, 'nope') as y",
        ONE,
        [{"x": "1", "y": "0"}],
    ),
}
NUMS = [
    event(i, {"v": v, "k": k}) for i, (v, k) in enumerate([(1, "a"), (2, "b"), (3, "a"), (10, "b")])
]
CASES |= {
    "avg": ("stats avg(v) as r", NUMS, [{"r": "4"}]),
    "count": (
        "stats count() as a, count(*) as b, count(v) as c",
        NUMS + [event(9, "x")],
        [{"a": "5", "b": "5", "c": "4"}],
    ),
    "count_distinct": ("stats count_distinct(k) as r", NUMS, [{"r": "2"}]),
    "max": ("stats max(v) as r", NUMS, [{"r": "10"}]),
    "min": ("stats min(v) as r", NUMS, [{"r": "1"}]),
    "pct": ("stats pct(v, 50) as r", NUMS, [{"r": "2.5"}]),
    "stddev": ("stats stddev(v) as r", NUMS, [{"r": "4.08248290464"}]),
    "sum": ("stats sum(v) as r", NUMS, [{"r": "16"}]),
    "earliest": ("stats earliest(v) as r", NUMS, [{"r": "1"}]),
    "latest": ("stats latest(v) as r", NUMS, [{"r": "10"}]),
    # Documented sort order: non-numbers (natural order) first, then numbers.
    "sortsfirst": (
        "stats sortsFirst(v) as r",
        NUMS + [event(8, {"v": "b2"}), event(9, {"v": "b10"})],
        [{"r": "b2"}],
    ),
    "sortslast": ("stats sortsLast(v) as r", NUMS + [event(8, {"v": "b2"})], [{"r": "10"}]),
}


def test_every_function_has_both_implementations_and_a_case():
    for key, function in REGISTRY.items():
        assert callable(function.sql), key
        if function.aggregate:
            assert isinstance(function.python, type) and issubclass(function.python, Accumulator), (
                key
            )
        else:
            assert callable(function.python), key
        assert key in CASES, f"no conformance case for {function.name}"
    assert set(CASES) == set(REGISTRY)


@pytest.mark.parametrize("name", sorted(CASES))
def test_function_case(run, name):
    query, events, expected = CASES[name]
    result = run(query, events)
    assert result.rows == expected


def test_unnest_documented_example(run):
    # unnest page: `fields jsonParse(@message) as json_message | unnest json_message.events
    # into event | display event.name` over {"events": [{"name": "exception"}, {"name": "user action"}]}
    events = [event(0, {"events": [{"name": "exception"}, {"name": "user action"}]})]
    rows = run(
        "fields jsonParse(@message) as json_message | unnest json_message.events into event | display event.name",
        events,
    ).rows
    assert rows == [{"event.name": "exception"}, {"event.name": "user action"}]


def test_unnest_for_aggregation_and_list_access(run):
    # unnest page: `... | unnest accounts into account | stats sum(account.droppedSpans) as n by account.accountId`
    events = [
        event(
            0,
            {
                "accounts": [
                    {"accountId": "1", "droppedSpans": 2},
                    {"accountId": "2", "droppedSpans": 5},
                ]
            },
        ),
        event(1, {"accounts": [{"accountId": "1", "droppedSpans": 3}]}),
    ]
    rows = run(
        "fields jsonParse(@message) as js | unnest js.accounts into account "
        "| stats sum(account.droppedSpans) as n by account.accountId | sort n desc",
        events,
    ).rows
    assert rows == [{"account.accountId": "1", "n": "5"}, {"account.accountId": "2", "n": "5"}]
    first = run(
        "fields jsonParse(@message) as js | fields js.accounts[0].accountId as a | display a",
        events,
    ).rows
    assert first == [{"a": "1"}, {"a": "1"}]


def test_now_is_close_to_the_clock(run):
    import time

    rows = run("fields toMillis(now()) as t", ONE).rows
    assert abs(int(rows[0]["t"]) - time.time() * 1000) < 60_000
    assert T0  # the fixture's events are in the past


def test_docs_table_is_generated_from_the_registry():
    from pathlib import Path

    from opskit.insights.functions import markdown_table

    doc = (Path(__file__).resolve().parents[3] / "docs" / "insights.md").read_text()
    embedded = doc.split("<!-- functions:begin -->\n", 1)[1].split("<!-- functions:end -->", 1)[0]
    assert embedded == markdown_table()
