"""A local query's answer, rendered as GetQueryResults renders it (every value a string)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Result:
    columns: list[str]
    rows: list[dict[str, str]]  # field -> string; a missing field is left out
    engine: str  # "duckdb" or "python"
    statistics: dict[str, float] = field(default_factory=dict)
    cached: bool = False  # answered from the columnar cache of the export
