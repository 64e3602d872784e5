"""Differential fuzzing: random queries from the grammar, over random events, on both backends.

The Python backend is the reference; DuckDB must give the same columns and rows (or both
must reject the query the same way). Values are small integers and short strings so the
comparison is exact (no float noise to argue about).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opskit.insights.engine import run_file
from opskit.insights.parser import QuerySyntaxError

FIELDS = ["status", "n", "path", "missing"]
word = st.sampled_from(["a", "b", "a1", "a10", "B2", "", "503"])
value = st.one_of(
    st.integers(-5, 600),
    st.sampled_from([0.5, 1.0, 2.25, -3.75, 1e3, 1.5e-3, 10**16]),
    word,
    st.none(),
    st.booleans(),
)
message = st.fixed_dictionaries(
    {}, optional={"status": value, "n": value, "path": word, "tags": st.lists(value, max_size=3)}
)
events = st.lists(message, min_size=0, max_size=12)

field = st.sampled_from(FIELDS)
literal = st.one_of(st.integers(-3, 510).map(str), word.map(lambda w: f"'{w}'"))


@st.composite
def scalar(draw, depth: int = 0) -> str:
    choice = draw(st.integers(0, 6 if depth < 2 else 1))
    if choice == 0:
        return draw(field)
    if choice == 1:
        return draw(literal)
    if choice == 2:
        op = draw(st.sampled_from(["+", "-", "*"]))
        return f"({draw(scalar(depth + 1))} {op} {draw(scalar(depth + 1))})"
    if choice == 3:
        fn = draw(
            st.sampled_from(
                [
                    "abs",
                    "strlen",
                    "toupper",
                    "tolower",
                    "trim",
                    "ispresent",
                    "isempty",
                    "isValidIpV4",
                ]
            )
        )
        return f"{fn}({draw(scalar(depth + 1))})"
    if choice == 4:
        return f"coalesce({draw(field)}, {draw(literal)})"
    if choice == 5:
        return f"if({draw(condition(depth + 1))}, {draw(scalar(depth + 1))}, {draw(literal)})"
    return f"concat({draw(field)}, '-', {draw(field)})"


@st.composite
def condition(draw, depth: int = 0) -> str:
    choice = draw(st.integers(0, 4 if depth < 2 else 1))
    if choice == 0:
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        return f"{draw(scalar(depth + 1))} {op} {draw(literal)}"
    if choice == 1:
        return f"{draw(field)} like {draw(st.sampled_from(['/a/', '/^[[:upper:]]/', '/(?i)b/', 'a', '/^5/']))}"
    if choice == 2:
        return f"{draw(field)} in [{draw(literal)}, {draw(literal)}]"
    if choice == 3:
        joiner = draw(st.sampled_from(["and", "or"]))
        return f"({draw(condition(depth + 1))} {joiner} {draw(condition(depth + 1))})"
    return f"not {draw(condition(depth + 1))}"


@st.composite
def query(draw) -> str:
    commands = []
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["filter", "fields"]))
        if kind == "filter":
            commands.append(f"filter {draw(condition())}")
        else:
            commands.append(f"fields {draw(scalar())} as x{len(commands)}, {draw(field)}")
    ending = draw(st.sampled_from(["stats", "sort", "dedup", "plain", "unnest"]))
    if ending == "unnest":
        commands.append("fields jsonParse(@message) as j")
        commands.append(f"unnest j.{draw(st.sampled_from(['tags', 'path', 'n']))} into t")
        tail = draw(
            st.sampled_from(["stats count(*) as c by t", "fields t, path", "sort t | limit 4"])
        )
        commands.append(tail)
        return " | ".join(commands)
    if ending == "stats":
        aggregate = draw(
            st.sampled_from(
                [
                    "count(*)",
                    "count(status)",
                    "sum(n)",
                    "min(n)",
                    "max(status)",
                    "count_distinct(path)",
                    "sortsFirst(path)",
                    "sortsLast(n)",
                ]
            )
        )
        by = draw(st.sampled_from(["", " by path", " by status", " by path, status"]))
        commands.append(f"stats {aggregate} as agg{by}")
        if draw(st.booleans()):
            commands.append(f"sort agg {draw(st.sampled_from(['asc', 'desc']))}")
    elif ending == "sort":
        commands.append(f"sort {draw(field)} {draw(st.sampled_from(['asc', 'desc']))}")
        commands.append(f"limit {draw(st.integers(1, 5))}")
    elif ending == "dedup":
        commands.append(f"dedup {draw(field)}")
        commands.append(f"limit {draw(st.integers(1, 5))}")
    commands.append("fields status, n, path" if ending != "stats" else "limit 20")
    if ending == "dedup":  # only limit may follow dedup
        commands.pop()
    return " | ".join(commands)


def outcome(text: str, path) -> tuple:
    results = []
    for engine in ("python", "duckdb"):
        try:
            result = run_file(text, path, engine=engine)
        except QuerySyntaxError as exc:
            results.append(("rejected", exc.message))
            continue
        results.append((result.columns, result.rows))
    return tuple(results)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(docs=events, text=query())
def test_backends_agree_on_random_queries(tmp_path, docs, text):
    path = tmp_path / "events.jsonl"
    path.write_text(
        "".join(
            json.dumps({"timestamp": 1_795_000_000_000 + i * 1000, "message": json.dumps(d)}) + "\n"
            for i, d in enumerate(docs)
        )
    )
    python, duck = outcome(text, path)
    assert python == duck, text


@pytest.mark.parametrize(
    "text",
    [
        "filter n + 1 > 2 | stats sum(n) as s by path | sort s desc",
        "fields if(n > 3, n, 'small') as v | sort v",
    ],
)
def test_fixed_examples_agree(tmp_path, text):
    path = tmp_path / "e.jsonl"
    docs = [{"n": 5, "path": "a"}, {"n": 1, "path": "b"}, {"n": "x", "path": "a"}, {}]
    path.write_text(
        "".join(
            json.dumps({"timestamp": 1 + i, "message": json.dumps(d)}) + "\n"
            for i, d in enumerate(docs)
        )
    )
    python, duck = outcome(text, path)
    assert python == duck and python[1]
