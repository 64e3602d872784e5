"""The demo: its upstream services, its traffic driver against a real gateway, and the whole run.

Everything here is real: the upstreams are aiohttp servers on 127.0.0.1, the gateway runs
under uvicorn in its own process against the moto server over HTTP, and the end-to-end
test runs `python -m opskit.demo` as a user would and checks that it leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from opskit.demo import project, reaper
from opskit.demo.shell import Shell
from opskit.demo.traffic import (
    BURST_PRINCIPALS,
    BURST_SIZE,
    Credentials,
    Driver,
    build_plan,
    session_token,
)
from opskit.demo.upstreams import Behaviour, Upstreams
from opskit.errors import LocalAccountError
from tests.conftest import free_port
from tests.tables import create_gateway_tables

ROOT = Path(__file__).resolve().parent.parent
SECRET = "demo-test-secret-" + "s" * 32


# --- the upstream services ---------------------------------------------------------------


async def _get(http: aiohttp.ClientSession, url: str, **kwargs: object) -> tuple[int, object]:
    async with http.get(url, **kwargs) as response:
        body = await response.read()
        return response.status, json.loads(body) if body else None


def test_upstreams_serve_data_slowness_and_failures() -> None:
    async def scenario() -> None:
        behaviour = Behaviour(
            latency_scale=0.01, stuck_s=5, inventory_failure_rate=1.0, order_failure_rate=1.0
        )
        upstreams = Upstreams(behaviour)
        urls = await upstreams.start()
        try:
            assert set(urls) == {"users", "products", "orders"}
            assert len({u.rsplit(":", 1)[1] for u in urls.values()}) == 3
            async with aiohttp.ClientSession() as http:
                status, user = await _get(http, urls["users"] + "/42")
                assert status == 200 and user["id"] == 42 and user["email"].endswith("@example.com")
                assert (await _get(http, urls["users"] + "/501"))[0] == 404
                status, page = await _get(http, urls["products"] + "/?limit=5")
                assert status == 200 and len(page["items"]) == 5
                status, hits = await _get(http, urls["products"] + "/search?q=desk")
                assert status == 200 and hits["total"] == 20
                assert all("Desk" in item["name"] for item in hits["items"])
                status, _ = await _get(http, urls["products"] + "/7/inventory")
                assert status == 503
                async with http.post(urls["orders"] + "/", json={"items": [1]}) as response:
                    assert response.status == 500
                with pytest.raises(aiohttp.ServerDisconnectedError):
                    await _get(http, urls["orders"] + "/legacy/export")
                with pytest.raises(TimeoutError):
                    await _get(
                        http, urls["orders"] + "/stuck", timeout=aiohttp.ClientTimeout(total=0.3)
                    )
                stats = (await _get(http, urls["orders"] + "/__demo/stats"))[1]
                users_stats = (await _get(http, urls["users"] + "/__demo/stats"))[1]
            # 0 = dropped connection (aiohttp's client may retry it once); the stuck call never finished.
            assert set(stats["by_status"]) == {"0", "500"} and stats["by_status"]["500"] == 1
            assert users_stats == {
                "service": "users",
                "requests": 2,
                "by_status": {"200": 1, "404": 1},
            }
        finally:
            await upstreams.stop()

    asyncio.run(scenario())


def test_upstream_slowness_is_real_and_seeded() -> None:
    async def timed_search(seed: int) -> tuple[float, list[int]]:
        behaviour = Behaviour(seed=seed, latency_scale=0.2, order_failure_rate=0.5)
        upstreams = Upstreams(behaviour)
        urls = await upstreams.start()
        try:
            async with aiohttp.ClientSession() as http:
                started = time.perf_counter()
                await _get(http, urls["products"] + "/search?q=lamp")
                elapsed = time.perf_counter() - started
                statuses = []
                for _ in range(12):
                    async with http.post(urls["orders"] + "/", json={}) as response:
                        statuses.append(response.status)
            return elapsed, statuses
        finally:
            await upstreams.stop()

    elapsed, first = asyncio.run(timed_search(3))
    _, again = asyncio.run(timed_search(3))
    _, other = asyncio.run(timed_search(4))
    assert 0.3 * 0.2 <= elapsed < 1.5 * 0.2 + 0.5  # search takes 300-1500 ms, scaled
    assert first == again  # same seed, same failures
    assert set(first) == {201, 500} and first != other


# --- the traffic plan ----------------------------------------------------------------------


def test_plan_mix_stays_under_the_limit_except_the_bursts() -> None:
    plan = build_plan(3000, seed=7)
    assert abs(plan.total - 3000) <= 30
    per_principal = Counter(c.principal for c in [*plan.logins, *plan.main, *plan.logouts])
    browsing = {p: n for p, n in per_principal.items() if p and p.startswith(("jwt:", "session:"))}
    assert max(browsing.values()) < 100  # the default limit is 100/60: browsing never hits it
    assert len(plan.burst) == BURST_PRINCIPALS * BURST_SIZE and BURST_SIZE > 100
    scenarios = Counter(c.scenario for c in plan.main)
    assert {"jwt user", "session user", "anonymous", "slow upstream", "failing upstream"} <= set(
        scenarios
    )
    assert scenarios["anonymous"] <= 60  # anonymous callers share one IP key
    assert plan.main[0].path == "/api/orders/stuck"  # waits out the timeout while the rest runs
    assert [c.path for c in build_plan(3000, seed=7).main] == [c.path for c in plan.main]
    assert [c.path for c in build_plan(3000, seed=8).main] != [c.path for c in plan.main]
    with pytest.raises(ValueError, match="at least 400"):
        build_plan(100)


def test_session_token_is_read_from_the_gateway_answer() -> None:
    assert session_token({"token": "gws_abc", "token_type": "Bearer"}) == "gws_abc"
    assert session_token({"token": ""}) is None
    assert session_token(["gws_abc"]) is None


# --- the traffic driver against a real gateway ----------------------------------------------


@pytest.fixture
def upstream_process():
    proc = subprocess.Popen(
        [sys.executable, "-m", "opskit.demo.upstreams", "--latency-scale", "0.3", "--stuck-s", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert info["pid"] == proc.pid
        yield info
    finally:
        proc.terminate()
        returncode = proc.wait(timeout=10)
        stderr = proc.stderr.read().decode()
        proc.stdout.close()
        proc.stderr.close()
    assert returncode == 0, stderr
    assert "Traceback" not in stderr


@pytest.fixture
def gateway(moto, clients, upstream_process):
    create_gateway_tables(clients.client("dynamodb"), "demo-rate-limits", "demo-sessions")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
        "AWS_ENDPOINT_URL": moto,
        "GATEWAY_JWT_SECRET": SECRET,
        "GATEWAY_RATE_LIMIT_TABLE": "demo-rate-limits",
        "GATEWAY_SESSIONS_TABLE": "demo-sessions",
        "GATEWAY_RATE_LIMIT": "100/60",
        "GATEWAY_TRACING": "off",
        "GATEWAY_UPSTREAM_USERS": upstream_process["users"],
        "GATEWAY_UPSTREAM_PRODUCTS": upstream_process["products"],
        "GATEWAY_UPSTREAM_ORDERS": upstream_process["orders"],
        "GATEWAY_UPSTREAM_ORDERS_TIMEOUT": "1",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway.serve",
            "gateway.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/health/live", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.1)
        yield url, upstream_process
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stderr.close()


def _served(url: str) -> Counter[str]:
    with urllib.request.urlopen(url + "/__demo/stats", timeout=5) as response:
        return Counter(json.loads(response.read())["by_status"])


def test_traffic_through_a_real_gateway(gateway) -> None:
    url, upstreams = gateway
    plan = build_plan(500, seed=11, stuck_calls=1)
    report = asyncio.run(Driver(url, Credentials(SECRET), concurrency=16).drive(plan))

    assert len(report.results) == plan.total
    assert report.sessions_created == len(plan.session_users) > 0
    by = report.by_scenario()
    assert by["session login"] == Counter({201: len(plan.session_users)})
    assert by["session logout"] == Counter({204: len(plan.logouts)})
    # Two crawlers fire 150 requests each inside one 100/60 window: 50 each are refused.
    # (Almost exactly: moto's conditional UpdateItem is not atomic under concurrent requests,
    # so a few extra may slip through here; DynamoDB itself admits exactly 100.)
    refused, limit_excess = by["burst"][429], BURST_PRINCIPALS * (BURST_SIZE - 100)
    assert set(by["burst"]) == {200, 429} and 0.9 * limit_excess <= refused <= limit_excess
    assert sum(c[429] for s, c in by.items() if s != "burst") == 0
    anonymous = [c for c in plan.main if c.scenario == "anonymous"]
    health = sum(1 for c in anonymous if c.path == "/health/live")
    assert by["anonymous"] == Counter({200: health, 401: len(anonymous) - health})
    assert by["slow upstream"][200] == sum(1 for c in plan.main if c.scenario == "slow upstream")
    assert {502, 504} <= set(by["failing upstream"])  # dropped connection, stuck backend
    assert report.by_status[0] == 0  # the gateway answered every request
    assert report.latency_pct(99, "slow upstream") > 300 * 0.3

    # What the gateway proxied is what the upstreams served (429s and 401s never reach them).
    users_answered = Counter(r.status for r in report.results if r.path.startswith("/api/users"))
    users_served = _served(upstreams["users"])
    assert users_served == Counter({"200": users_answered[200], "404": users_answered[404]})
    products_ok = sum(
        1 for r in report.results if r.path.startswith("/api/products") and r.status == 200
    )
    assert _served(upstreams["products"])["200"] == products_ok

    summary = report.to_dict()
    assert summary["requests"] == plan.total
    assert summary["by_scenario"]["burst"]["429"] == refused


def test_traffic_cli_without_a_local_account_says_what_to_do(tmp_path, monkeypatch, capsys) -> None:
    from opskit.demo.traffic import main

    (tmp_path / "opskit.toml").write_text((ROOT / "opskit.toml").read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPSKIT_CONFIG", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["--from-local"]) == LocalAccountError.exit_code
    out = capsys.readouterr().err
    assert "no local gateway is running" in out and "opskit --env local local up" in out
    assert main(["--gateway", "http://127.0.0.1:9", "--secret", ""]) == 2


# --- the orchestrator's parts ---------------------------------------------------------------


def test_project_dir_links_the_sources_and_keeps_its_own_state(tmp_path) -> None:
    source = tmp_path / "src"
    (source / "gateway").mkdir(parents=True)
    (source / "opskit.toml").write_text("[env.local]\nlocal = true\n")
    (source / ".opskit").mkdir()
    work = project.prepare(source, tmp_path / "demo")
    assert (work / "opskit.toml").resolve() == (source / "opskit.toml").resolve()
    assert (work / "gateway").is_symlink() and not (work / ".opskit").is_symlink()
    (source / "queries").mkdir()
    (source / "gateway").rmdir()
    project.prepare(source, work)  # refreshed: new entries linked, removed ones unlinked
    assert (work / "queries").is_symlink() and not (work / "gateway").exists()
    with project.DemoLock(work), pytest.raises(LocalAccountError, match="another demo is running"):
        project.DemoLock(work).__enter__()
    with project.DemoLock(work):
        pass  # released: a later demo can run


def test_shell_shows_the_command_and_the_reason_it_failed(tmp_path) -> None:
    from io import StringIO

    from rich.console import Console

    buffer = StringIO()
    shell = Shell(Console(file=buffer, width=120), tmp_path, dict(os.environ))
    result = shell.run("opskit", ["--env", "nosuchenv", "status"], timeout=60)
    assert result.returncode == 3
    assert result.display == "opskit --env nosuchenv status"
    assert "unknown environment 'nosuchenv'" in result.reason
    assert "$ opskit --env nosuchenv status" in buffer.getvalue()
    slow = shell.run("http.server", ["--bind", "127.0.0.1", str(free_port())], timeout=1.5)
    assert slow.returncode == 124 and "timed out" in slow.reason
    assert shell.current is None


def test_reaper_finds_marked_processes_wherever_they_are(tmp_path) -> None:
    run_id = "test-" + os.urandom(4).hex()
    env = {**os.environ, reaper.MARKER: run_id}
    # A grandchild in its own session, like the local account's processes.
    script = (
        "import subprocess, sys; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
        " start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL);"
        " print(p.pid)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    grandchild = int(out.stdout)
    try:
        found = reaper.marked_processes(run_id)
        assert [p.pid for p in found] == [grandchild]
        assert "time.sleep(60)" in found[0].command
    finally:
        reaper.stop_pid(grandchild)
    assert reaper.marked_processes(run_id) == []


# --- the whole demo, as `make demo` runs it ---------------------------------------------------

TEST_MARKER = "OPSKIT_DEMO_TEST_RUN"


def _run_demo(
    cwd: Path, *args: str, timeout: float
) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run the demo as a user would; every process it starts inherits TEST_MARKER."""
    run_id = os.urandom(6).hex()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSKIT_")}
    env.update({TEST_MARKER: run_id, "COLUMNS": "120"})
    result = subprocess.run(
        [sys.executable, "-m", "opskit.demo", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result, run_id


def _left_behind(run_id: str) -> list[reaper.Leftover]:
    left = reaper.marked_processes(run_id, marker=TEST_MARKER)
    for proc in left:  # do not leak them into the rest of the suite, but fail below
        reaper.stop_pid(proc.pid)
    return left


def test_a_failed_step_stops_everything_and_says_why(tmp_path) -> None:
    source = tmp_path / "project"
    source.mkdir()
    for entry in ROOT.iterdir():
        if not entry.name.startswith(".") and entry.name != "opskit.toml":
            (source / entry.name).symlink_to(entry)
    config = (ROOT / "opskit.toml").read_text()
    (source / "opskit.toml").write_text(
        config.replace("[env.local]\n", '[env.local]\ntemplate = "cloudformation/missing.yaml"\n')
    )
    result, run_id = _run_demo(source, "--requests", "400", timeout=120)
    out = result.stdout
    assert result.returncode == 5, out + result.stderr  # the deploy's own exit code (not found)
    assert "$ opskit --env local local up" in out
    assert "Step 3 (deploy the stack" in out and "missing.yaml not found" in out
    assert "$ opskit --env local local down" in out and "emulator (pid" in out
    assert "no process left behind" in out
    assert _left_behind(run_id) == []
    assert not (source / ".opskit" / "demo" / ".opskit" / "local.json").exists()


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_make_demo_runs_end_to_end_and_leaves_nothing_behind(tmp_path) -> None:
    summary_path = tmp_path / "summary.json"
    result, run_id = _run_demo(
        ROOT, "--requests", "600", "--summary-json", str(summary_path), timeout=400
    )
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-2000:]
    summary = json.loads(summary_path.read_text())
    assert summary["outcome"] == "ok"
    assert [s["outcome"] for s in summary["steps"]] == ["ok"] * len(summary["steps"]) == ["ok"] * 10
    for command in (
        "opskit --env local local up",
        "python -m opskit.demo.upstreams",
        "opskit --env local deploy --yes --parameter UpstreamUsersUrl=http://127.0.0.1:",
        "python -m opskit.demo.traffic --from-local --requests 600",
        "opskit --env local insights slow-requests --limit 10",
        "opskit --env local insights run errors",
        "opskit --env local insights run latency",
        "opskit --env local alarms apply --yes --email demo@example.com",
        "opskit --env local alarms list",
        "opskit --env local dashboards render > .opskit/dashboard.json",
        "opskit --env local dashboards push",
        "opskit --env local top --hours 1 --period 60",
        "opskit --env local budget setup --amount 20 --email demo@example.com",
        "opskit --env local cost estimate --from-logs",
        "opskit --env local cost estimate --from-logs --requests 10M",
        "opskit --env local local down",
    ):
        assert f"$ {command}" in out, command
    traffic = summary["traffic"]
    assert traffic["requests"] >= 600
    assert {"200", "201", "401", "429", "502", "504"} <= set(traffic["by_status"])
    charted = re.search(r"([\d,]+) requests, ([\d,]+) 5xx", out)  # `top`, from the derived metrics
    assert charted, out[-4000:]
    answered = traffic["requests"] - int(traffic["by_status"].get("0", 0))
    assert int(charted[1].replace(",", "")) >= answered
    assert "what the demo did" in out and "no process left behind" in out
    assert _left_behind(run_id) == []
    workdir = Path(summary["workdir"])
    assert not (workdir / ".opskit" / "local.json").exists()
    assert json.loads((workdir / ".opskit" / "dashboard.json").read_text())["widgets"]


def test_ctrl_c_stops_everything_the_demo_started(tmp_path) -> None:
    run_id = os.urandom(6).hex()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSKIT_")}
    env[TEST_MARKER] = run_id
    proc = subprocess.Popen(
        [sys.executable, "-m", "opskit.demo", "--workdir", str(tmp_path / "demo")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("3/10"):
                break  # the emulator and the upstreams run; the deploy starts
        assert (
            len(reaper.marked_processes(run_id, marker=TEST_MARKER)) >= 3
        )  # demo, emulator, upstreams
        proc.send_signal(signal.SIGINT)
        seen.append(proc.stdout.read())
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    out = "".join(seen)
    assert "$ opskit --env local local down" in out and "Interrupted" in out, out
    assert _left_behind(run_id) == []
