"""Machine-readable output: one JSON/YAML document or one CSV table per invocation, JSON lines
for streams, the keys docs/commands.md documents. Against the moto server over HTTP.

Oracles: Python's json and csv modules and PyYAML parse what opskit prints (a second document
or a stray text line makes them fail), and the values are compared with what moto holds.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
import yaml
from click.testing import CliRunner

from opskit.app import App
from opskit.cli import cli
from opskit.config import load_environment
from opskit.errors import EXIT_INTERRUPTED, EXIT_USAGE
from opskit.terminal import Terminal
from tests.opskit.alarms.fake_stack import OUTPUTS, STACK, create_fake_stack


def run(*args: str):
    return CliRunner().invoke(cli, ["--env", "local", *args])


def test_status_is_one_document_or_one_csv_table(local_env, clients):
    create_fake_stack(clients)
    as_json = run("status", "--output", "json")
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert report["name"] == STACK and report["outputs"] == OUTPUTS
    assert yaml.safe_load(run("status", "-o", "yaml").stdout) == report
    table = list(csv.DictReader(io.StringIO(run("status", "-o", "csv").stdout)))
    assert {row["section"] for row in table} >= {"stack", "output", "resource"}
    assert [r["name"] for r in table if r["section"] == "stack"] == [STACK]
    outputs = {r["name"]: r["detail"] for r in table if r["section"] == "output"}
    assert outputs == OUTPUTS
    header = run("status", "-o", "csv").stdout.splitlines()[0]
    assert header == "section,name,type,status,time,detail"


def test_insights_show_as_json(local_env):
    shown = json.loads(run("insights", "show", "slow-requests", "-o", "json").stdout)
    assert shown["name"] == "slow-requests"
    assert {p["name"] for p in shown["params"]} >= {"threshold_ms"}
    assert "filter" in shown["query"]


def test_dashboards_push_as_json(local_env, clients):
    create_fake_stack(clients)
    assert run("alarms", "apply").exit_code == 0
    first = json.loads(run("dashboards", "push", "-o", "json").stdout)
    assert first["name"] == f"{STACK}-gateway" and first["changed"] is True
    assert first["url"].endswith(f"#dashboards/dashboard/{STACK}-gateway")
    assert json.loads(run("dashboards", "push", "-o", "json").stdout)["changed"] is False
    body = json.loads(run("dashboards", "render", "-o", "json").stdout)
    assert yaml.safe_load(run("dashboards", "render", "-o", "yaml").stdout) == body
    flat = list(csv.DictReader(io.StringIO(run("dashboards", "render", "-o", "csv").stdout)))
    assert flat and set(flat[0]) == {"key", "value"}
    assert "widgets.0.type" in {row["key"] for row in flat}


def test_top_as_json_csv_and_a_json_lines_stream(local_env, clients):
    from tests.opskit.dashboards.test_push_and_top import put_traffic

    create_fake_stack(clients)
    put_traffic(clients.client("cloudwatch"), datetime.now(UTC))
    doc = json.loads(run("top", "--hours", "1", "-o", "json").stdout)
    assert doc["stack"] == STACK and doc["totals"]["requests"] == 1800
    assert sum(1 for p in doc["points"] if p["request_rate"]) == 3
    rows = list(csv.DictReader(io.StringIO(run("top", "--hours", "1", "-o", "csv").stdout)))
    assert len(rows) == len(doc["points"]) and set(rows[0]) == set(doc["points"][0])
    assert run("top", "--watch", "-o", "csv").exit_code == EXIT_USAGE

    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:
            raise KeyboardInterrupt

    app = App(
        env=load_environment("local"),
        terminal=Terminal(output="json"),
        sleep=sleep,
        _clients=clients,
    )
    stream = CliRunner().invoke(cli, ["top", "--hours", "1", "--watch", "--interval", "5"], obj=app)
    assert stream.exit_code == EXIT_INTERRUPTED
    lines = stream.stdout.splitlines()
    assert len(lines) == 2 and all(json.loads(line)["stack"] == STACK for line in lines)


def test_logs_tail_as_json_lines(local_env, clients):
    create_fake_stack(clients)
    logs = clients.client("logs")
    group = OUTPUTS["FunctionLogGroupName"]
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    access = {"message": "request", "status": 503, "path": "/api/users/1", "note": "[/] literal"}
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[
            {"timestamp": now_ms - 2000, "message": json.dumps(access)},
            {"timestamp": now_ms - 1000, "message": "START RequestId: abc Version: $LATEST"},
        ],
    )
    result = run("logs", "tail", "--no-follow", "--since", "5m", "-o", "json")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["data"] for r in records] == [access, None]
    assert records[1]["message"].startswith("START RequestId: abc")
    assert all(r["log_group"] == group and r["log_stream"] == "s1" for r in records)
    assert records[0]["timestamp"].endswith("Z")
    for stream_format in ("csv", "yaml"):  # one document per invocation: not a stream format
        refused = run("logs", "tail", "--no-follow", "-o", stream_format)
        assert refused.exit_code == EXIT_USAGE and refused.stdout == ""
        assert "use --output json" in refused.stderr


def test_alarms_list_watch_streams_the_rows_as_json_lines(local_env, clients):
    create_fake_stack(clients)
    assert run("alarms", "apply").exit_code == 0
    once = json.loads(run("alarms", "list", "-o", "json").stdout)
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:
            raise KeyboardInterrupt

    app = App(env=load_environment("local"), terminal=Terminal(output="json"), sleep=sleep)
    stream = CliRunner().invoke(cli, ["alarms", "list", "--watch", "--interval", "5"], obj=app)
    assert stream.exit_code == EXIT_INTERRUPTED, stream.output
    lines = [json.loads(line) for line in stream.stdout.splitlines()]
    assert len(lines) == 2 and naps == [5, 5]
    assert [[row["name"] for row in line] for line in lines] == [[r["name"] for r in once]] * 2
    assert run("alarms", "list", "--watch", "-o", "csv").exit_code == EXIT_USAGE


@pytest.mark.parametrize("output", ["json", "yaml", "csv"])
def test_insights_list_in_every_format_parses(local_env, output):
    text = run("insights", "list", "-o", output).stdout
    parsed = {
        "json": json.loads,
        "yaml": yaml.safe_load,
        "csv": lambda t: list(csv.DictReader(io.StringIO(t))),
    }[output](text)
    assert {row["name"] for row in parsed} >= {"errors", "latency"}


def test_local_status_when_not_running_is_still_a_document(local_env):
    assert json.loads(run("local", "status", "-o", "json").stdout) == {
        "running": False,
        "processes": [],
    }
    assert run("local", "status", "-o", "csv").stdout == "role,pid,running,address\n"


# Commands that answer on the local account with no more set-up than a stack: each must print
# the same document as JSON and YAML, and one CSV table, in every format (found: `cost estimate`
# and `budget status` printed their table for --output yaml).
EVERY_FORMAT = [
    ("status",),
    ("insights", "list"),
    ("insights", "functions"),
    ("insights", "show", "errors"),
    ("cost", "estimate", "--requests", "1M"),
    ("cost", "prices"),
    ("alarms", "list"),
    ("local", "status"),
    ("local", "down"),
    ("budget", "setup", "--amount", "20", "--email", "ops@example.com", "--plan", "-y"),
]


@pytest.mark.parametrize("command", EVERY_FORMAT, ids=" ".join)
def test_every_format_is_one_parseable_document(local_env, clients, command):
    create_fake_stack(clients)
    results = {fmt: run(*command, "-o", fmt) for fmt in ("json", "yaml", "csv")}
    for fmt, result in results.items():
        assert result.exit_code == 0, (fmt, result.output)
    as_json = json.loads(results["json"].stdout)
    assert yaml.safe_load(results["yaml"].stdout) == as_json
    table = list(csv.reader(io.StringIO(results["csv"].stdout)))
    assert table and all(len(row) == len(table[0]) for row in table)  # one table, one header
    # The same command with the option before it, and through --format, prints the same.
    assert (
        CliRunner().invoke(cli, ["--env", "local", "-o", "json", *command]).stdout
        == results["json"].stdout
    )
    assert run(*command, "--format", "json").stdout == results["json"].stdout


def test_commands_that_write_files_or_act_answer_with_one_document(local_env, clients, tmp_path):
    create_fake_stack(clients)
    assert run("alarms", "apply").exit_code == 0
    app = App(env=load_environment("local"), terminal=Terminal(), sleep=lambda seconds: None)
    fired = CliRunner().invoke(cli, ["alarms", "test", "lambda-errors", "-o", "json"], obj=app)
    assert fired.exit_code == 0, fired.output
    result = json.loads(fired.stdout)
    assert result.pop("previous") in {"OK", "INSUFFICIENT_DATA"}
    assert result == {
        "name": f"{STACK}-lambda-errors",
        "held_s": 10.0,
        "actions": [],
        "history": None,  # the local emulator keeps no action history
    }
    exported = run(
        "logs", "export", "--since", "1h", "--out", str(tmp_path / "e.jsonl"), "-o", "json"
    )
    assert exported.exit_code == 0, exported.output
    doc = json.loads(exported.stdout)
    assert doc["path"] == str(tmp_path / "e.jsonl") and doc["events"] == 0
    assert doc["log_group"] == OUTPUTS["FunctionLogGroupName"]
    preview = run(
        "dashboards", "preview", "--hours", "1", "--out", str(tmp_path / "d.html"), "-o", "yaml"
    )
    assert preview.exit_code == 0, preview.output
    shown = yaml.safe_load(preview.stdout)
    assert shown["path"] == str(tmp_path / "d.html") and shown["widgets"] > 0
    assert (tmp_path / "d.html").is_file()


def test_destroy_answers_with_one_document_and_its_preview_is_on_stderr(local_env, clients):
    create_fake_stack(clients)
    refused = run("destroy", "-o", "json")  # no terminal, no --yes: declined, nothing deleted
    assert refused.exit_code == 9 and refused.stdout == ""
    assert f"To delete: stack {STACK}" in refused.stderr
    destroyed = run("destroy", "--yes", "-o", "json")
    assert destroyed.exit_code == 0, destroyed.output
    doc = json.loads(destroyed.stdout)
    assert doc["stack"] == STACK and doc["deleted"] is True
    assert {"retained", "removed", "left_in_place"} <= set(doc)
