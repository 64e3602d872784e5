"""The Examples section and docs link of every command's --help (a test parses each example).

Kept in one table so every help screen has the same shape; the CLI appends it to the
command's epilog when the command is loaded.
"""

from __future__ import annotations

from typing import Any

# command path -> (docs page, example command lines)
EXAMPLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "": (  # `opskit --help`
        "commands.md",
        (
            "opskit --env local local up",
            "opskit init --env dev",
            "opskit --env dev deploy --plan",
            "opskit status --env dev -o json",
            "opskit --env dev insights slow-requests --since 1h",
        ),
    ),
    "package": (
        "deploy.md",
        ("opskit package", "opskit package --architecture x86_64 --out build/"),
    ),
    "deploy": (
        "deploy.md",
        (
            "opskit --env dev deploy --plan",
            "opskit --env dev deploy -p MemorySize=1024",
            "opskit deploy --env local --yes",
        ),
    ),
    "status": (
        "deploy.md",
        ("opskit --env dev status", "opskit status --env prod --drift", "opskit status -o json"),
    ),
    "destroy": ("deploy.md", ("opskit --env dev destroy", "opskit destroy --env local --yes")),
    "local": ("local-account.md", ("opskit local up", "opskit local status", "opskit local down")),
    "local up": ("local-account.md", ("opskit local up", "opskit local up -o json")),
    "local status": ("local-account.md", ("opskit local status",)),
    "local down": ("local-account.md", ("opskit local down",)),
    "logs": (
        "insights.md",
        ("opskit --env local logs tail", "opskit logs export --since 1h --out events.jsonl"),
    ),
    "logs tail": (
        "insights.md",
        (
            "opskit --env dev logs tail --status 5xx",
            "opskit logs tail --since 1h --no-follow --level ERROR",
            "opskit logs tail -o json | jq .data.status",
        ),
    ),
    "logs export": (
        "insights.md",
        ("opskit --env dev logs export --since 1h --out events.jsonl",),
    ),
    "insights": (
        "insights.md",
        ("opskit insights list", "opskit --env local insights slow-requests --limit 10"),
    ),
    "insights list": ("insights.md", ("opskit insights list", "opskit insights list -o json")),
    "insights functions": (
        "insights.md",
        ("opskit insights functions", "opskit insights functions -o json"),
    ),
    "insights show": ("insights.md", ("opskit insights show latency",)),
    "insights run": (
        "insights.md",
        (
            "opskit --env dev insights run errors --since 2h",
            "opskit insights run slow-requests --param threshold_ms=500 --file events.jsonl",
            "opskit insights run --query 'stats count(*) by status' --env local -o csv",
            "opskit insights run latency --file events.jsonl --engine duckdb --no-cache",
        ),
    ),
    "alarms": ("alarms.md", ("opskit --env dev alarms apply --plan", "opskit alarms list")),
    "alarms apply": (
        "alarms.md",
        (
            "opskit --env dev alarms apply --plan",
            "opskit alarms apply --email ops@example.com --yes",
        ),
    ),
    "alarms list": ("alarms.md", ("opskit --env dev alarms list", "opskit alarms list --watch")),
    "alarms test": ("alarms.md", ("opskit --env dev alarms test lambda-errors --hold 30",)),
    "alarms history": (
        "alarms.md",
        ("opskit --env local alarms history", "opskit alarms history lambda-errors --limit 10"),
    ),
    "dashboards": ("alarms.md", ("opskit dashboards render > dashboard.json",)),
    "dashboards render": ("alarms.md", ("opskit --env dev dashboards render > dashboard.json",)),
    "dashboards push": ("alarms.md", ("opskit --env dev dashboards push",)),
    "dashboards preview": (
        "alarms.md",
        (
            "opskit --env local dashboards preview --open",
            "opskit --env dev dashboards preview --hours 6 --out dashboard.html",
        ),
    ),
    "top": ("alarms.md", ("opskit --env dev top --hours 6", "opskit top --watch --interval 60")),
    "budget": ("cost.md", ("opskit budget setup --amount 20 --email ops@example.com",)),
    "budget setup": (
        "cost.md",
        (
            "opskit --env dev budget setup --amount 20 --email ops@example.com",
            "opskit budget setup --amount 50 --email a@example.com --threshold actual:50",
        ),
    ),
    "budget status": ("cost.md", ("opskit --env dev budget status",)),
    "cost": (
        "cost.md",
        (
            "opskit --env dev cost --days 30",
            "opskit cost --month 2026-11 --group-by usage-type -o csv",
        ),
    ),
    "cost estimate": (
        "cost.md",
        (
            "opskit cost estimate --requests 10M --duration-ms 40",
            "opskit --env local cost estimate --from-logs",
        ),
    ),
    "cost prices": ("cost.md", ("opskit cost prices", "opskit cost prices --refresh")),
    "cost anomalies": ("cost.md", ("opskit --env dev cost anomalies --days 30",)),
    "init": (
        "commands.md",
        (
            "opskit init",
            "opskit init --env dev --region eu-west-1 --stack-name gw-dev --no-input",
        ),
    ),
    "completion": (
        "commands.md",
        ("opskit completion bash >> ~/.bashrc", "opskit completion zsh > ~/.zfunc/_opskit"),
    ),
}
DOCS = "docs/"


def examples_for(path: str, command: Any) -> tuple[str, tuple[str, ...]] | None:
    """The docs page and examples of the command at `path` ("insights slow-requests")."""
    if path in EXAMPLES:
        return EXAMPLES[path]
    if path.startswith("insights "):  # a library query's shortcut
        name = path.split(" ", 1)[1]
        first = f"opskit --env dev insights {name} --since 1h"
        return "insights.md", (first, f"opskit insights {name} --file events.jsonl -o json")
    return None


def epilog_for(path: str, command: Any) -> str | None:
    found = examples_for(path, command)
    if found is None:
        return None
    page, lines = found
    # \b keeps Click from re-wrapping the lines.
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines) + f"\n\nDocs: {DOCS}{page}"
