"""The filter-pattern evaluator against the examples of the CloudWatch Logs documentation.

Oracle: the documented outcome of each example, from
- "Using filter patterns to match terms in JSON log events"
  (docs.aws.amazon.com/AmazonCloudWatch/latest/logs/matching-terms-json-log-events.html),
- "Using filter patterns to match terms with unstructured log events" and
  "Using filter patterns to match terms in space-delimited log events"
  (docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html and the pages it links),
- "Creating metric filters" (metric value from a field, default value, dimensions).
Each case below cites the example it is taken from. The gateway's own filters are checked
against real gateway lines in tests/opskit/alarms/test_filters_on_real_lines.py.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opskit.local.filter_patterns import (
    FilterPatternError,
    MetricFilter,
    compile_pattern,
    split_fields,
)

# The documentation's example JSON event for single-condition patterns.
JSON_EVENT = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "ThisFlag": True,
    }
)

# The documentation's example JSON event for compound patterns.
COMPOUND_EVENT = json.dumps(
    {
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [
            {"id": 2, "email": "John.Doe@example.com"},
            {"id": 3, "email": "Jane.Doe@example.com"},
        ],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1], [2, 3]],
    }
)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.eventType = "UpdateTrail" }', True),  # string value
        ("{ $.sourceIPAddress != 123.123.* }", True),  # != with a wildcard
        ('{ $.arrayKey[0] = "value" }', True),  # array element
        ("{ $.objectList[1].id = 2 }", True),  # object inside an array, numeric
        ("{ $.SomeObject IS NULL }", True),  # null value
        ("{ $.SomeOtherObject NOT EXISTS }", True),  # absent field
        ("{ $.ThisFlag IS TRUE }", True),  # boolean
        ('{ $.eventType = "Update*" }', True),
        ('{ $.eventType = "DeleteTrail" }', False),
        ("{ $.objectList[1].id > 1 }", True),
        ("{ $.objectList[1].id < 2 }", False),
        ("{ $.ThisFlag IS FALSE }", False),
        ("{ $.eventType IS NULL }", False),
        ("{ $.SomeObject NOT EXISTS }", False),  # null is present
        ("{ $.eventType = %Update[A-Z]% }", True),  # regex in a JSON pattern
    ],
)
def test_documented_single_condition_json_examples(pattern: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(JSON_EVENT) is expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # "&& is evaluated before ||" and parentheses override it: the documented outcomes.
        ('{ ($.user.id = 2 && $.users[0].email = "John.Doe@example.com") || $.actions[2] = "GET" }', False),
        ('{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch" && $.actions[2] = "nonmatch" }', True),
        ('{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = "nonmatch") && $.actions[2] = "nonmatch" }', False),
        ('{ ($.user.id = 1 && $.users[0].email = "John.Doe@example.com") }', True),
        ("{ $.coordinates[1][0] = 2 }", True),
    ],
)  # fmt: skip
def test_documented_compound_json_examples(pattern: str, expected: bool) -> None:
    assert compile_pattern(pattern).matches(COMPOUND_EVENT) is expected


# The documentation's unstructured example events and term patterns.
TERM_EVENTS = [
    "[ERROR 400] BAD REQUEST",
    "[ERROR 401] UNAUTHORIZED REQUEST",
    "[ERROR 419] MISSING ARGUMENTS",
    "[ERROR 420] INVALID ARGUMENTS",
]


@pytest.mark.parametrize(
    ("pattern", "matched"),
    [
        ("ERROR", [0, 1, 2, 3]),
        ("ERROR ARGUMENTS", [2, 3]),
        ("?ERROR ?ARGUMENTS", [0, 1, 2, 3]),
        ("?REQUEST ?MISSING", [0, 1, 2]),
        ('"INVALID ARGUMENTS"', [3]),
        ("ERROR -ARGUMENTS", [0, 1]),
        ("", [0, 1, 2, 3]),  # the empty pattern matches every event
        ("error", []),  # terms are case-sensitive
    ],
)
def test_documented_term_examples(pattern: str, matched: list[int]) -> None:
    flt = compile_pattern(pattern)
    assert [i for i, e in enumerate(TERM_EVENTS) if flt.matches(e)] == matched


APACHE = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534'
APACHE_404 = '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 404 310'


def test_space_delimited_fields_group_quotes_and_brackets() -> None:
    assert split_fields(APACHE) == [
        "127.0.0.1", "-", "frank", "10/Oct/2000:13:25:15 -0700",
        "GET /apache_pb.gif HTTP/1.0", "200", "1534",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "matched"),
    [
        ("[ip, user, username, timestamp, request, status_code, bytes]", [0, 1]),
        ("[ip, user, username, timestamp, request, status_code = 404, bytes]", [1]),
        ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", [1]),
        ("[ip, user, username, timestamp, request = *apache*, status_code, bytes > 1000]", [0]),
        ("[ip, user, ..., status_code >= 400 && status_code < 500, bytes]", [1]),
        ("[ip = 127.0.0.*, ...]", [0, 1]),
        ("[..., status_code = 200 || status_code = 404, bytes]", [0, 1]),
        ("[ip, user, username = bob, ...]", []),
        ("[ip, user, username, timestamp]", []),  # 7 fields, 4 columns, no ...
    ],
)
def test_documented_space_delimited_examples(pattern: str, matched: list[int]) -> None:
    flt = compile_pattern(pattern)
    assert [i for i, e in enumerate([APACHE, APACHE_404]) if flt.matches(e)] == matched


def test_metric_value_and_dimensions_from_fields() -> None:
    """ "Creating metric filters": metric value $.field; dimensions from fields; no value, no datum."""
    flt = MetricFilter.from_api(
        {
            "filterName": "latency",
            "filterPattern": '{ $.eventType = "UpdateTrail" }',
            "metricTransformations": [
                {
                    "metricName": "Id",
                    "metricNamespace": "Test",
                    "metricValue": "$.objectList[1].id",
                    "dimensions": {"Ip": "$.sourceIPAddress"},
                    "unit": "Count",
                }
            ],
        }
    )
    found = flt.pattern.match(JSON_EVENT)
    assert found is not None
    assert flt.transformations[0].emit(found) == (2.0, (("Ip", "111.111.111.111"),))
    space = MetricFilter.from_api(
        {
            "filterName": "bytes",
            "filterPattern": "[ip, user, username, timestamp, request, status_code, bytes]",
            "metricTransformations": [
                {"metricName": "Bytes", "metricNamespace": "T", "metricValue": "$bytes"}
            ],
        }
    )
    hit = space.pattern.match(APACHE)
    assert hit is not None and space.transformations[0].emit(hit) == (1534.0, ())
    missing = MetricFilter.from_api(
        {
            "filterName": "x",
            "filterPattern": "{ $.eventType EXISTS }",
            "metricTransformations": [
                {"metricName": "X", "metricNamespace": "T", "metricValue": "$.nope"}
            ],
        }
    )
    found = missing.pattern.match(JSON_EVENT)
    assert found is not None and missing.transformations[0].emit(found) is None


@pytest.mark.parametrize(
    "bad",
    ["{ $.a = }", "{ $.a >= abc }", "{ a = 1 }", "{ $.a = 1", "{ ($.a = 1 }", "{ $.a IS MAYBE }", "[a, b = ]"],
)  # fmt: skip
def test_invalid_patterns_are_rejected(bad: str) -> None:
    with pytest.raises(FilterPatternError):
        compile_pattern(bad)


@given(st.text(max_size=60))
def test_any_text_compiles_or_is_rejected_cleanly(text: str) -> None:
    try:
        flt = compile_pattern(text)
    except FilterPatternError:
        return
    assert flt.matches(JSON_EVENT) in (True, False)
    assert flt.matches("plain line") in (True, False)


def test_a_non_json_line_never_matches_a_json_pattern() -> None:
    assert not compile_pattern("{ $.a NOT EXISTS }").matches("REPORT RequestId: x Duration: 1 ms")
