"""`make demo` = `python -m opskit.demo`: the whole product, end to end, on the local account.

Every step prints the exact command a user would type, then runs that command as a
real subprocess of the real CLI, so the demo is also the tutorial. It works in its own
project directory (`.opskit/demo/`, see opskit.demo.project) so it never touches a
local account you started yourself, stops everything it started (by process id), checks
that nothing is left behind, and exits 0. A failed step stops everything, says which
step failed and why, and exits with that command's exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from opskit.demo import project, reaper
from opskit.demo.shell import CommandResult, Shell, display
from opskit.errors import OpsError

if TYPE_CHECKING:
    from mypy_boto3_logs import CloudWatchLogsClient

ENV_ARGS = ["--env", "local"]
HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
DEFAULT_EMAIL = "demo@example.com"
# Variables that would point opskit somewhere other than the demo's own project.
SCRUBBED_ENV = (
    "OPSKIT_ENDPOINT_URL",
    "OPSKIT_CONFIG",
    "OPSKIT_ENV",
    "OPSKIT_DEBUG",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
)


class StepFailed(Exception):
    def __init__(self, reason: str, exit_code: int = 1):
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code


class Interrupted(BaseException):
    """SIGINT/SIGTERM/SIGHUP: stop everything, exit 130."""


@dataclass
class StepRecord:
    number: int
    title: str
    seconds: float = 0.0
    outcome: str = "not run"
    commands: list[str] = field(default_factory=list)


@dataclass
class Options:
    requests: int = 3000
    concurrency: int = 16
    email: str = DEFAULT_EMAIL
    budget: str = "20"
    workdir: Path | None = None
    summary_json: Path | None = None


class Demo:
    def __init__(self, options: Options, console: Console):
        self.options = options
        self.console = console
        self.run_id = uuid.uuid4().hex
        self.workdir = Path()
        self.shell: Shell | None = None
        self.upstreams: subprocess.Popen[bytes] | None = None
        self.upstream_urls: dict[str, str] = {}
        self.local_started = False
        self.records: list[StepRecord] = []
        self.traffic: dict[str, Any] = {}
        self.gateway_url = ""
        self.endpoint_url = ""
        self.files: dict[str, Path] = {}

    # --- plumbing -------------------------------------------------------------------------

    def child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        env[reaper.MARKER] = self.run_id
        env["PYTHONUNBUFFERED"] = "1"
        env["COLUMNS"] = str(max(60, self.console.width - 4))  # their output is indented by 4
        if self.console.is_terminal:
            env.setdefault("FORCE_COLOR", "1")
        return env

    def opskit(
        self, *args: str, timeout: float = 120.0, capture_to: Path | None = None
    ) -> CommandResult:
        assert self.shell is not None
        result = self.shell.run(
            "opskit", [*ENV_ARGS, *args], timeout=timeout, capture_to=capture_to
        )
        self.records[-1].commands.append(result.display)
        if result.returncode != 0:
            raise StepFailed(
                f"`{result.display}` exited {result.returncode}: {result.reason}", result.returncode
            )
        return result

    def local_state(self) -> dict[str, Any]:
        path = self.workdir / ".opskit" / "local.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise StepFailed(f"cannot read the local account's state {path}: {exc}") from None

    # --- the steps ----------------------------------------------------------------------

    def step_local_up(self) -> None:
        self.local_started = True  # from here on, cleanup runs `local down`
        self.opskit("local", "up", timeout=60)
        state = self.local_state()
        self.endpoint_url = state["endpoint_url"]

    def step_upstreams(self) -> None:
        assert self.shell is not None
        args = ["--seed", "7"]
        shown = display("opskit.demo.upstreams", args) + " &"
        self.shell.announce(shown)
        self.records[-1].commands.append(shown)
        log = self.workdir / ".opskit" / "upstreams.log"
        with log.open("ab") as err:
            self.upstreams = subprocess.Popen(
                [sys.executable, "-m", "opskit.demo.upstreams", *args],
                cwd=self.workdir,
                env=self.child_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
            )
        line = _read_line(self.upstreams, timeout=20)
        if not line:
            raise StepFailed(f"the demo upstreams did not start (see {log})")
        info = json.loads(line)
        self.upstream_urls = {k: info[k] for k in ("users", "products", "orders")}
        for name, url in self.upstream_urls.items():
            self.console.print(f"    {name:<9} {url}")
        self.console.print(f"    pid {self.upstreams.pid}; log {log}", soft_wrap=True)

    def step_deploy(self) -> None:
        params = []
        for name, url in self.upstream_urls.items():
            params += ["--parameter", f"Upstream{name.title()}Url={url}"]
        self.opskit("deploy", "--yes", *params, timeout=600)
        state = self.local_state()
        self.gateway_url = state.get("gateway_url") or ""
        if not self.gateway_url or "gateway" not in state.get("pids", {}):
            raise StepFailed(
                "the deploy finished but the local gateway is not running (no gateway pid in .opskit/local.json)"
            )

    def step_status(self) -> None:
        self.opskit("local", "status", timeout=60)

    def step_traffic(self) -> None:
        assert self.shell is not None
        out = self.workdir / ".opskit" / "traffic.json"
        args = [
            "--from-local",
            "--requests",
            str(self.options.requests),
            "--concurrency",
            str(self.options.concurrency),
            "--json-out",
            str(out.relative_to(self.workdir)),
        ]
        result = self.shell.run(
            "opskit.demo.traffic", args, timeout=600, passthrough=self.console.is_terminal
        )
        self.records[-1].commands.append(result.display)
        if result.returncode != 0:
            raise StepFailed(
                f"`{result.display}` exited {result.returncode}: {result.reason}", result.returncode
            )
        self.traffic = json.loads(out.read_text())
        self.files["traffic summary"] = out
        self.wait_for_logs(
            answered=self.traffic["requests"] - int(self.traffic["by_status"].get("0", 0))
        )

    def wait_for_logs(self, answered: int, timeout: float = 60.0) -> None:
        """The shipper batches lines into the log group: wait until every access line is there."""
        from opskit.app import App
        from opskit.config import load_environment

        env = load_environment("local", path=self.workdir / "opskit.toml")
        group = env.function_log_group
        logs = App(env=env).emulator_clients(self.endpoint_url, env.region).logs()
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            seen = count_access_lines(logs, group)
            if seen >= answered:
                self.console.print(f"    {seen} access lines are in {group}")
                return
            time.sleep(0.5)
        raise StepFailed(
            f"only {seen} of {answered} access lines reached {group} within {timeout:.0f} s "
            "(see .opskit/shipper.log)"
        )

    def step_insights(self) -> None:
        self.opskit("insights", "slow-requests", "--limit", "10", timeout=120)
        self.opskit("insights", "run", "errors", timeout=120)
        self.opskit("insights", "run", "latency", timeout=120)

    def step_alarms(self) -> None:
        self.opskit("alarms", "apply", "--yes", "--email", self.options.email, timeout=120)
        self.opskit("alarms", "list", timeout=60)

    def step_dashboards(self) -> None:
        target = self.workdir / ".opskit" / "dashboard.json"
        result = self.opskit("dashboards", "render", timeout=60, capture_to=target)
        try:
            body = json.loads(result.output)
        except ValueError as exc:
            raise StepFailed(
                f"`{result.display}` did not print a JSON dashboard body: {exc}"
            ) from None
        widgets = body.get("widgets", []) if isinstance(body, dict) else []
        self.console.print(
            f"    {len(widgets)} widgets, {len(result.output.splitlines())} lines of JSON in {target}"
        )
        self.files["dashboard body"] = target
        self.opskit("dashboards", "push", timeout=60)
        # The metrics behind it, as terminal charts (locally derived from the access lines):
        self.opskit("top", "--hours", "1", "--period", "60", timeout=60)

    def step_budget(self) -> None:
        self.opskit(
            "budget",
            "setup",
            "--amount",
            self.options.budget,
            "--email",
            self.options.email,
            timeout=60,
        )

    def step_cost(self) -> None:
        self.opskit("cost", "estimate", "--from-logs", timeout=120)
        # The same measured traffic (durations, memory, bytes, rate-limited share) at scale:
        self.opskit("cost", "estimate", "--from-logs", "--requests", "10M", timeout=120)

    STEPS: tuple[tuple[str, str], ...] = (
        ("start the local account (emulator on 127.0.0.1)", "step_local_up"),
        ("start the demo upstreams (users, products, orders)", "step_upstreams"),
        ("deploy the stack, pointed at the upstreams (restarts the local gateway)", "step_deploy"),
        ("see what runs where", "step_status"),
        ("drive traffic through the gateway", "step_traffic"),
        ("ask the logs: slow requests, errors, latency", "step_insights"),
        ("apply the alarm baseline and list it", "step_alarms"),
        ("render the CloudWatch dashboard, push it, chart its metrics", "step_dashboards"),
        ("set a monthly budget", "step_budget"),
        ("estimate the monthly bill from the gateway's own logs", "step_cost"),
    )

    # --- the run --------------------------------------------------------------------------

    def run(self) -> int:
        started = time.monotonic()
        source = project.source_project()
        self.workdir = project.prepare(source, self.options.workdir)
        with project.DemoLock(self.workdir):
            project.reset_run_files(self.workdir)
            os.environ[reaper.MARKER] = self.run_id  # our own children inherit it too
            self.shell = Shell(self.console, self.workdir, self.child_env())
            failure: StepFailed | None = None
            interrupted = False
            try:
                self.intro(source)
                for number, (title, method) in enumerate(self.STEPS, start=1):
                    self.run_step(number, title, getattr(self, method))
            except StepFailed as exc:
                failure = exc
            except Interrupted:
                interrupted = True
            finally:
                problems = self.cleanup()
            elapsed = time.monotonic() - started
            for problem in problems:
                self.console.print(f"[bold red]cleanup[/]: {problem}", soft_wrap=True)
            if interrupted:
                self.console.print(
                    "[bold red]Interrupted[/]: the demo stopped what it had started."
                )
                self.write_summary(elapsed, "interrupted")
                return 130
            if failure is not None:
                record = self.records[-1]
                self.console.print(
                    f"[bold red]Step {record.number} ({record.title}) failed[/]: {failure.reason}",
                    soft_wrap=True,
                )
                if not problems:
                    self.console.print("Everything the demo started is stopped.")
                self.write_summary(elapsed, "failed")
                return failure.exit_code or 1
            self.summary(elapsed)
            self.write_summary(elapsed, "left processes behind" if problems else "ok")
            return 1 if problems else 0

    def run_step(self, number: int, title: str, action: Callable[[], None]) -> None:
        record = StepRecord(number, title)
        self.records.append(record)
        self.console.print()
        self.console.rule(f"[bold]{number}/{len(self.STEPS)}  {title}", align="left")
        started = time.monotonic()
        try:
            action()
            record.outcome = "ok"
        except StepFailed:
            record.outcome = "FAILED"
            raise
        except OpsError as exc:
            record.outcome = "FAILED"
            raise StepFailed(exc.format_line(), exc.exit_code) from None
        except Interrupted:
            record.outcome = "interrupted"
            raise
        finally:
            record.seconds = time.monotonic() - started

    def intro(self, source: Path) -> None:
        self.console.rule("[bold]opskit demo")
        opskit_bin = Path(sys.executable).parent / "opskit"
        self.console.print(
            "The whole product on an embedded local AWS account: no AWS account, no Docker.\n"
            "Every line starting with [bold green]$[/] is a real command, run as you would type it "
            f"({_relative(opskit_bin, source)}, or `opskit` after `source .venv/bin/activate`).\n"
            "The demo works in its own project directory (links to this project's files, its own "
            ".opskit/ state), so it never touches a local account of yours.\n"
            "It takes about 35 s on 2 cores (the first run also builds the Lambda zip; 3,000 "
            "requests of traffic take 15 s of it).",
            soft_wrap=True,
        )
        if (source / ".opskit" / "local.json").is_file():
            self.console.print(
                f"Your own local account ({source / '.opskit' / 'local.json'}) stays as it is.",
                soft_wrap=True,
            )
        self.console.print(f"[bold green]$[/] [bold]cd {_relative(self.workdir, source)}[/]")

    def cleanup(self) -> list[str]:
        """Stop everything this demo started; return what could not be stopped cleanly."""
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in HANDLED_SIGNALS}
        try:
            return self._cleanup()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _cleanup(self) -> list[str]:
        problems: list[str] = []
        self.console.print()
        self.console.rule("[bold]stop everything the demo started", align="left")
        if self.shell is not None:
            self.shell.kill_current()
        if self.local_started and self.shell is not None:
            result = self.shell.run("opskit", [*ENV_ARGS, "local", "down"], timeout=60)
            if result.returncode != 0:
                problems.append(f"`{result.display}` exited {result.returncode}: {result.reason}")
        if self.upstreams is not None:
            shown = f"kill {self.upstreams.pid}"
            self.shell.announce(shown + "   # the demo upstreams") if self.shell else None
            reaper.stop_pid(self.upstreams.pid)
            self.upstreams.wait(timeout=10)
            if self.upstreams.stdout is not None:
                self.upstreams.stdout.close()
        if reaper.can_scan():
            left = reaper.marked_processes(self.run_id, exclude={os.getpid()})
            for proc in left:
                problems.append(
                    f"process {proc.pid} was left behind ({proc.command[:100]}); stopped it"
                )
                reaper.stop_pid(proc.pid)
            if not left:
                self.console.print("    no process left behind")
        return problems

    def write_summary(self, elapsed: float, outcome: str) -> None:
        """`--summary-json`: what ran, how long each step took (for tests and bench/demo.py)."""
        if self.options.summary_json is None:
            return
        steps = [
            {
                "number": r.number,
                "title": r.title,
                "seconds": round(r.seconds, 2),
                "outcome": r.outcome,
                "commands": r.commands,
            }
            for r in self.records
        ]
        document = {
            "outcome": outcome,
            "wall_s": round(elapsed, 2),
            "workdir": str(self.workdir),
            "steps": steps,
            "traffic": self.traffic,
        }
        self.options.summary_json.write_text(json.dumps(document, indent=2))

    def summary(self, elapsed: float) -> None:
        self.console.print()
        self.console.rule("[bold]what the demo did", align="left")
        steps = Table(show_edge=False)
        steps.add_column("#", justify="right")
        steps.add_column("step")
        steps.add_column("seconds", justify="right")
        steps.add_column("result")
        for record in self.records:
            steps.add_row(str(record.number), record.title, f"{record.seconds:.1f}", record.outcome)
        self.console.print(steps)
        traffic = self.traffic
        if traffic:
            statuses = ", ".join(f"{code}: {count}" for code, count in traffic["by_status"].items())
            self.console.print(
                f"Traffic: {traffic['requests']} requests in {traffic['wall_s']} s "
                f"({traffic['requests_per_s']} req/s), p50 {traffic['latency_ms']['p50']} ms, "
                f"p99 {traffic['latency_ms']['p99']} ms; status codes {statuses}."
            )
        state_dir = self.workdir / ".opskit"
        where = Table(show_edge=False, show_header=False)
        where.add_column("what")
        where.add_column("where")
        where.add_row("demo project", str(self.workdir))
        where.add_row("gateway log (as shipped)", str(state_dir / "gateway.log"))
        where.add_row(
            "emulator / gateway / shipper logs",
            str(state_dir / "{emulator,gateway.err,shipper}.log"),
        )
        where.add_row("demo upstreams log", str(state_dir / "upstreams.log"))
        for label, path in self.files.items():
            where.add_row(label, str(path))
        self.console.print(where)
        self.console.print(
            f"[bold green]Demo finished in {elapsed:.0f} s.[/] Everything it started is stopped.\n"
            f"Try it yourself: `cd {self.workdir}`, `opskit --env local local up`, then the commands above."
        )


def count_access_lines(logs: CloudWatchLogsClient, group: str) -> int:
    """How many gateway access lines (`"message": "request"`) the log group holds."""
    from opskit.errors import NotFoundError
    from opskit.logs.cloudwatch import filter_events  # the one paginator

    try:
        return sum(1 for e in filter_events(logs, group) if _is_access_line(e.get("message", "")))
    except NotFoundError:
        return 0


def _is_access_line(message: str) -> bool:
    if '"request"' not in message:
        return False
    try:
        return json.loads(message).get("message") == "request"
    except ValueError:
        return False


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """The first line a child prints, or "" if it exits or stays silent for `timeout`."""
    box: list[bytes] = []
    reader = threading.Thread(
        target=lambda: box.append(proc.stdout.readline() if proc.stdout else b""), daemon=True
    )
    reader.start()
    reader.join(timeout)
    return box[0].decode().strip() if box else ""


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m opskit.demo",
        description="The whole product, end to end, on the embedded local account.",
    )
    parser.add_argument(
        "--requests", type=int, default=3000, help="about how many requests to drive (default 3000)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=16, help="concurrent requests (default 16)"
    )
    parser.add_argument(
        "--email",
        default=DEFAULT_EMAIL,
        help=f"where alarm and budget notifications go (default {DEFAULT_EMAIL})",
    )
    parser.add_argument("--budget", default="20", help="monthly budget in USD (default 20)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="the demo's project directory (default .opskit/demo)",
    )
    parser.add_argument(
        "--summary-json",
        type=Path,
        default=None,
        help="also write what ran and how long each step took to this file",
    )
    args = parser.parse_args(argv)
    if args.requests < 400:
        parser.error("--requests must be at least 400 (the rate-limit bursts alone take 300)")
    # Piped (CI, a log file): wide enough that tables stay readable; a terminal: its width.
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, width=120)
    for sig in HANDLED_SIGNALS:
        signal.signal(sig, _raise_interrupted)
    options = Options(
        requests=args.requests,
        concurrency=args.concurrency,
        email=args.email,
        budget=args.budget,
        workdir=args.workdir,
        summary_json=args.summary_json,
    )
    try:
        return Demo(options, console).run()
    except OpsError as exc:
        console.print(f"Error: {exc.format_line()}")
        return exc.exit_code
    except Interrupted:
        return 130


if __name__ == "__main__":
    sys.exit(main())
