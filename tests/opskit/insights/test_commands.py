"""`opskit insights` and `opskit logs` end to end: --file, --env local (moto server), export, tail."""

from __future__ import annotations

import json
import time

import pytest
from click.testing import CliRunner

from opskit.cli import cli
from opskit.logs.events import read_events
from tests.opskit.insights.conftest import event, write

ACCESS = [
    event(
        0,
        {
            "level": "INFO",
            "message": "request",
            "method": "GET",
            "path": "/api/users",
            "route": "/api/users",
            "status": 200,
            "latency_ms": 1500.25,
            "correlation_id": "c1",
        },
    ),
    event(
        1000,
        {
            "level": "INFO",
            "message": "request",
            "method": "GET",
            "path": "/api/orders",
            "route": "/api/orders",
            "status": 503,
            "latency_ms": 20,
            "upstream": "orders",
            "upstream_status": 503,
        },
    ),
    event(
        2000,
        {
            "level": "ERROR",
            "message": "upstream failed",
            "error_code": "UPSTREAM_TIMEOUT",
            "path": "/api/orders",
        },
    ),
    event(
        3000,
        {
            "level": "INFO",
            "message": "request",
            "method": "POST",
            "path": "/api/orders",
            "route": "/api/orders",
            "status": 201,
            "latency_ms": 2500,
        },
    ),
]


def invoke(*args: str, env: str | None = None):
    prefix = ["--env", env] if env else []
    return CliRunner().invoke(cli, [*prefix, *args])


def test_list_and_show(tmp_path):
    listed = invoke("insights", "list", "--format", "json")
    assert listed.exit_code == 0
    names = {row["name"]: row for row in json.loads(listed.stdout)}
    assert names["slow-requests"]["parameters"] == "threshold_ms=1000, limit=100"
    assert names["cold-starts"]["log_group"] == "lambda"
    shown = invoke("insights", "show", "slow-requests")
    assert shown.exit_code == 0
    assert (
        "# param: threshold_ms: int 0..900000 = 1000 (milliseconds)" in shown.stdout
        and "latency_ms > {threshold_ms}" in shown.stdout
    )
    missing = invoke("insights", "show", "nope")
    assert missing.exit_code == 5 and "no query named 'nope'" in missing.output


def test_slow_requests_on_a_file_is_the_json_contract(tmp_path):
    path = write(tmp_path / "events.jsonl", ACCESS)
    result = invoke(
        "insights",
        "slow-requests",
        "--threshold-ms",
        "1000",
        "--file",
        str(path),
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["latency_ms"] for r in rows] == ["2500", "1500.25"]
    assert rows[1] == {
        "@timestamp": "2026-11-18 11:06:40.000",
        "method": "GET",
        "path": "/api/users",
        "route": "/api/users",
        "status": "200",
        "latency_ms": "1500.25",
        "correlation_id": "c1",
    }
    assert all(isinstance(v, str) for row in rows for v in row.values())
    csv_out = invoke(
        "insights",
        "run",
        "slow-requests",
        "--param",
        "threshold_ms=2000",
        "--file",
        str(path),
        "--format",
        "csv",
    )
    assert csv_out.stdout.splitlines()[0].startswith("@timestamp,method,path")
    assert len(csv_out.stdout.splitlines()) == 2


def test_every_library_query_runs_on_a_file(tmp_path):
    path = write(
        tmp_path / "events.jsonl",
        ACCESS
        + [
            event(
                5000,
                "REPORT RequestId: r\tDuration: 5.0 ms\tBilled Duration: 5 ms\tMemory Size: 512 MB\tMax Memory Used: 100 MB\tInit Duration: 300.0 ms\t",
            ),
            event(
                6000,
                "2026-11-18T11:06:46.000Z 3f1c2d4e-1111-2222-3333-444455556666 Task timed out after 30.03 seconds",
            ),
        ],
    )
    from opskit.insights.library import load_library

    outputs = {}
    for name in load_library():
        result = invoke("insights", "run", name, "--file", str(path), "--format", "json")
        assert result.exit_code == 0, (name, result.output)
        outputs[name] = json.loads(result.stdout)
    assert outputs["errors"][0] == {
        "route": "/api/orders",
        "failed_requests": "0",
        "responses_5xx": "1",
        "error_lines": "1",
    }
    assert outputs["memory"] == [
        {
            "provisioned_mb": "512",
            "max_used_mb": "100",
            "avg_used_mb": "100",
            "p99_used_mb": "100",
            "over_provisioned_mb": "412",
            "max_used_pct": "19.53125",
        }
    ]
    assert outputs["cold-starts"][0]["cold_start_pct"] == "100"
    assert outputs["upstream-errors"][0]["upstream"] == "orders"
    assert [(r["request_id"], r["seconds"]) for r in outputs["timeouts"]] == [
        ("3f1c2d4e-1111-2222-3333-444455556666", "30.03")
    ]
    assert outputs["top-paths"][0] == {
        "path": "/api/orders",
        "requests": "2",
        "avg_latency_ms": "1260",
        "errors_5xx": "1",
    }


def test_query_errors_are_one_line_with_exit_code(tmp_path):
    path = write(tmp_path / "events.jsonl", ACCESS)
    bad = invoke("insights", "run", "--query", "fields a | pattern @message", "--file", str(path))
    assert bad.exit_code == 7
    assert "unsupported command 'pattern'" in bad.output and "line 1, column 12" in bad.output
    param = invoke(
        "insights", "run", "slow-requests", "--param", "threshold_ms=1; drop", "--file", str(path)
    )
    # --param values are option values: checked by the parameter's type, a usage error (exit 2)
    assert param.exit_code == 2 and "'1; drop' is not an integer 0..900000" in param.output
    unknown = invoke("insights", "run", "slow-requests", "--param", "nope=1", "--file", str(path))
    assert unknown.exit_code == 2 and "has no parameter 'nope'" in unknown.output
    missing = invoke(
        "insights", "run", "--query", "fields a", "--file", str(tmp_path / "absent.jsonl")
    )
    assert missing.exit_code == 5
    (tmp_path / "junk.jsonl").write_text('{"timestamp": 1, "message": "x"}\nnot json\n')
    junk = invoke("insights", "run", "--query", "fields a", "--file", str(tmp_path / "junk.jsonl"))
    # One error type for every events reader (opskit.logs.events): a bad input file is exit 3.
    assert junk.exit_code == 3 and "junk.jsonl:2 is not JSON" in junk.output
    both = invoke("insights", "run", "errors", "--query", "fields a")
    assert both.exit_code == 2


def _seed_local_group(clients, group: str, events: list[dict]) -> None:
    logs = clients.client("logs")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    shifted = [
        {"timestamp": now - 60_000 + i * 10, "message": e["message"]} for i, e in enumerate(events)
    ]
    for start in range(0, len(shifted), 5):  # several calls: FilterLogEvents must page
        logs.put_log_events(
            logGroupName=group, logStreamName="s", logEvents=shifted[start : start + 5]
        )


def test_env_local_reads_the_local_log_group(local_env, clients):
    many = ACCESS * 30  # 120 events
    _seed_local_group(clients, "/aws/lambda/opskit-local-gateway", many)
    result = invoke(
        "insights",
        "run",
        "--query",
        "filter message = 'request' | stats count(*) as n by path",
        "--format",
        "json",
        env="local",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"path": "/api/orders", "n": "60"},
        {"path": "/api/users", "n": "30"},
    ]
    assert "120 event(s)" in result.stderr
    slow = invoke("insights", "slow-requests", "--format", "json", env="local")
    assert len(json.loads(slow.stdout)) == 60


def test_logs_export_round_trips_through_the_engine(local_env, clients):
    _seed_local_group(clients, "/aws/lambda/opskit-local-gateway", ACCESS)
    out = local_env / "exported.jsonl"
    result = invoke("logs", "export", "--since", "1h", "--out", str(out), env="local")
    assert result.exit_code == 0, result.output
    events = list(read_events(out))
    assert [json.loads(e["message"])["level"] for e in events] == ["INFO", "INFO", "ERROR", "INFO"]
    assert set(events[0]) >= {"timestamp", "message", "logStreamName", "ingestionTime"}
    ran = invoke("insights", "slow-requests", "--file", str(out), "--format", "json")
    assert [r["latency_ms"] for r in json.loads(ran.stdout)] == ["2500", "1500.25"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            [],
            [
                "GET /api/users 200",
                "GET /api/orders 503",
                "upstream failed",
                "POST /api/orders 201",
            ],
        ),
        (["--level", "error"], ["upstream failed"]),
        (["--status", "5xx"], ["GET /api/orders 503"]),
        (["--status", "201"], ["POST /api/orders 201"]),
        (["--path", "/api/users"], ["GET /api/users 200"]),
        (["--path", "/api/o*"], ["GET /api/orders 503", "upstream failed", "POST /api/orders 201"]),
    ],
)
def test_logs_tail_pretty_prints_and_filters(local_env, clients, options, expected):
    _seed_local_group(clients, "/aws/lambda/opskit-local-gateway", ACCESS)
    result = invoke("logs", "tail", "--no-follow", "--since", "10m", *options, env="local")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(expected)
    for line, fragment in zip(lines, expected, strict=True):
        assert " ".join(fragment.split()) in " ".join(line.split())


def test_logs_tail_follow_sees_new_events_once(moto):
    from opskit.aws import ClientFactory
    from opskit.insights.tail import tail

    clients = ClientFactory("us-east-1", endpoint_url=moto)
    logs = clients.client("logs")
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName="g", logStreamName="s", logEvents=[{"timestamp": now, "message": "first"}]
    )

    def add_more(seconds: float) -> None:
        logs.put_log_events(
            logGroupName="g",
            logStreamName="s",
            logEvents=[{"timestamp": now + 5, "message": f"more {seconds}"}],
        )

    seen = [
        e["message"]
        for e in tail(
            logs, "g", now - 1000, follow=True, sleep=add_more, poll_seconds=1.0, max_polls=3
        )
    ]
    assert seen == ["first", "more 1.0", "more 1.0"]  # each put is one new event; nothing repeats


def test_logs_tail_rejects_bad_status(local_env):
    result = invoke("logs", "tail", "--no-follow", "--status", "abc", env="local")
    assert result.exit_code == 2
