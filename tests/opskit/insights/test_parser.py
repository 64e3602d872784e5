"""The parser: the whole subset, positions in errors, unsupported commands/functions named."""

from __future__ import annotations

import pytest

from opskit.errors import EXIT_QUERY_FAILED
from opskit.insights import ast
from opskit.insights.library import load_library
from opskit.insights.parser import QuerySyntaxError, parse_query


def test_pipeline_of_every_command():
    query = parse_query(
        "# a comment line\n"
        "fields @timestamp, latency_ms * 2 as double_ms  # trailing comment\n"
        "| filter status >= 500 and not (path like 'health' or path =~ /^\\/x/i) and route in ['/a', \"/b\"]\n"
        '| parse @message "user=* id=*" as user, id\n'
        "| parse detail /code=(?<code>\\d+)/\n"
        "| stats count(*), pct(latency_ms, 99) as p99 by route, bin(5m)\n"
        "| sort p99 desc, route asc\n"
        "| limit 20\n"
        "| dedup route\n"
        "| display route, p99"
    )
    kinds = [type(c).__name__ for c in query.commands]
    assert kinds == [
        "Fields",
        "Filter",
        "Parse",
        "Parse",
        "Stats",
        "Sort",
        "Limit",
        "Dedup",
        "Display",
    ]
    fields, _, glob, regex, stats, sort, limit, dedup, display = query.commands
    assert [p.name for p in fields.items] == ["@timestamp", "double_ms"]
    assert glob.names == ("user", "id") and glob.glob
    assert (
        regex.names == ("code",)
        and isinstance(regex.source, ast.Field)
        and regex.source.name == "detail"
    )
    assert [p.name for p in stats.aggregates] == ["count(*)", "p99"]
    assert [p.name for p in stats.groups] == ["route", "bin(5m)"]
    assert (
        isinstance(stats.groups[1].expr, ast.Call)
        and stats.groups[1].expr.args[0].millis == 300_000
    )
    assert [k.descending for k in sort.keys] == [True, False]
    assert limit.count == 20 and dedup.fields == ("route",)
    assert [p.name for p in display.items] == ["route", "p99"]


def test_operator_precedence():
    expr = parse_query("filter a + b * c ^ 2 > 10 or not x = 1 and y").commands[0].condition
    assert expr.op == "or"
    left = expr.left
    assert (
        left.op == ">"
        and left.left.op == "+"
        and left.left.right.op == "*"
        and left.left.right.right.op == "^"
    )
    assert expr.right.op == "and" and expr.right.left.op == "not"


def test_backticks_dashes_and_dotted_fields():
    fields = parse_query("fields `weird name`, x-request-id, a.b.0, a - b as d").commands[0].items
    assert [f.name for f in fields] == ["weird name", "x-request-id", "a.b.0", "d"]


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("fields a | pattern @message", 1, 12, "unsupported command 'pattern'"),
        ("fields a\n| frobnicate b", 2, 3, "unknown command 'frobnicate'"),
        ("fields toJson(@message)", 1, 8, "unsupported function 'toJson'"),
        ("filter count(*) > 1", 1, 8, "only allowed in stats"),
        ("stats latency_ms by path", 1, 7, "expected an aggregate function"),
        ("filter (a = 1", 1, 14, "expected ')', found end of query"),
        ("filter a = ", 1, 12, "expected a field, a value or a function call, found end of query"),
        ("fields a b", 1, 10, "expected '|' or end of query, found 'b'"),
        ("limit x", 1, 7, "expected a positive whole number after limit"),
        ("stats count(*) by bin(path)", 1, 23, "expected a time period"),
        ("stats count(*) by bin(5parsecs)", 1, 23, "invalid time period '5parsecs'"),
        ('parse @message "a=* b=*" as one', 1, 16, "2 '*' but 1 field name"),
        ("parse @message /nogroups/", 1, 16, "needs named groups"),
        ("filter a like /unclosed", 1, 15, "unterminated regular expression"),
        ("filter a = 'open", 1, 12, "unterminated string"),
        ("", 1, 1, "the query is empty"),
        ("fields substr()", 1, 8, "takes 2 to 3 argument(s), got 0"),
        ("filter a ! b", 1, 10, "unexpected character '!'"),
    ],
)
def test_errors_say_where_and_what(text, line, column, message):
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(text)
    error = info.value
    assert (error.line, error.column) == (line, column)
    assert message in error.message
    assert error.exit_code == EXIT_QUERY_FAILED
    assert f"line {line}, column {column}" in error.format_message()


def test_every_library_query_parses():
    library = load_library()
    assert {
        "slow-requests",
        "errors",
        "latency",
        "top-paths",
        "rate-limited",
        "cold-starts",
        "memory",
        "timeouts",
        "upstream-errors",
        "top-users",
    } <= set(library)
    for query in library.values():
        assert query.description and query.source, query.name
        parse_query(query.render())
