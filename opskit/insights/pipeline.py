"""The one query driver: AWS's validity rules, command order, output columns, sort/limit
fusion and the default limit. Backends (backends/python.py, backends/duckdb.py) implement
`Backend` and only say how each command runs.

Column rules (as CloudWatch shows results): the last `display`, else the last `stats`
columns (groups, then aggregates), else every `fields`/`parse`/`unnest` field in order;
without `fields` or `stats`, @timestamp and @message come first.
"""

from __future__ import annotations

from typing import Protocol

from opskit.insights import ast
from opskit.insights.parser import QuerySyntaxError

DEFAULT_LIMIT = 10_000  # documented: a query without `limit` returns up to 10,000 rows
MAX_STATS = 2


class Backend(Protocol):
    name: str

    def filter(self, command: ast.Filter) -> None: ...

    def fields(self, items: tuple[ast.Projection, ...]) -> None: ...

    def parse(self, command: ast.Parse) -> None: ...

    def unnest(self, command: ast.Unnest) -> None: ...

    def stats(self, command: ast.Stats) -> None: ...

    def sort(self, command: ast.Sort, top: int | None) -> None: ...

    def limit(self, count: int) -> None: ...

    def dedup(self, command: ast.Dedup) -> None: ...

    def finish(self, columns: list[str], limit: int) -> list[dict[str, str]]:
        """The rows in final order, at most `limit`, rendered like GetQueryResults."""
        ...


def validate(query: ast.Query) -> None:
    """Reject what CloudWatch Logs Insights rejects, with its kind of message."""
    commands = query.commands
    stats = [i for i, c in enumerate(commands) if isinstance(c, ast.Stats)]
    if len(stats) > MAX_STATS:
        raise QuerySyntaxError(
            query.text,
            commands[stats[MAX_STATS]].pos,
            f"a query can contain at most {MAX_STATS} stats commands",
        )
    if len(stats) == MAX_STATS:
        between = commands[stats[0] + 1 : stats[1]]
        for command in between:
            if isinstance(command, ast.Sort):
                raise QuerySyntaxError(
                    query.text, command.pos, "sort is not allowed between two stats commands"
                )
    for index, command in enumerate(commands):
        if isinstance(command, ast.Dedup):
            for later in commands[index + 1 :]:
                if not isinstance(later, ast.Limit):
                    raise QuerySyntaxError(
                        query.text,
                        later.pos,
                        "only the limit command is allowed after the dedup command",
                    )


def output_columns(query: ast.Query) -> list[str]:
    columns: list[str] = []
    display: list[str] | None = None
    stats_done = False
    for command in query.commands:
        if isinstance(command, ast.Display):
            display = [item.name for item in command.items]
        elif isinstance(command, ast.Fields):
            columns.extend(i.name for i in command.items if i.name not in columns)
        elif isinstance(command, ast.Parse):
            columns.extend(n for n in command.names if n not in columns)
        elif isinstance(command, ast.Unnest):
            if command.into not in columns:
                columns.append(command.into)
        elif isinstance(command, ast.Stats):
            stats_done = True
            columns = [item.name for item in command.groups + command.aggregates]
            display = None
    if display is not None:
        return display
    if not stats_done and not any(isinstance(c, ast.Fields) for c in query.commands):
        return ["@timestamp", "@message"] + [
            c for c in columns if c not in ("@timestamp", "@message")
        ]
    return columns


def run(
    query: ast.Query, backend: Backend, limit: int | None = None
) -> tuple[list[str], list[dict[str, str]]]:
    """Drive `backend` through the query; returns (columns, rendered rows)."""
    validate(query)
    commands = list(query.commands)
    skip_limit = False
    for index, command in enumerate(commands):
        if skip_limit:
            skip_limit = False
            continue
        if isinstance(command, ast.Filter):
            backend.filter(command)
        elif isinstance(command, ast.Fields | ast.Display):
            backend.fields(command.items)
        elif isinstance(command, ast.Parse):
            backend.parse(command)
        elif isinstance(command, ast.Unnest):
            backend.unnest(command)
        elif isinstance(command, ast.Stats):
            backend.stats(command)
        elif isinstance(command, ast.Sort):
            following = commands[index + 1] if index + 1 < len(commands) else None
            if isinstance(following, ast.Limit):  # sort | limit N: a top-N, not a full sort
                backend.sort(command, following.count)
                skip_limit = True
            else:
                backend.sort(command, None)
        elif isinstance(command, ast.Limit):
            backend.limit(command.count)
        elif isinstance(command, ast.Dedup):
            backend.dedup(command)
    columns = output_columns(query)
    final = DEFAULT_LIMIT if limit is None else limit
    return columns, backend.finish(columns, final)
