"""Run the commands a user would type, visibly: print `$ command`, stream its output, keep a tail.

Each command runs as a real subprocess (`sys.executable -m opskit ...`) in its own session,
so Ctrl-C reaches the demo first and the demo decides what to stop.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rich.console import Console

# What the user types for each program we run with this interpreter.
DISPLAY_NAMES = {
    "opskit": "opskit",
    "opskit.demo.traffic": "python -m opskit.demo.traffic",
    "opskit.demo.upstreams": "python -m opskit.demo.upstreams",
}


@dataclass
class CommandResult:
    display: str
    returncode: int
    seconds: float
    tail: list[str] = field(default_factory=list)
    output: str = ""

    @property
    def reason(self) -> str:
        """The command's own error line if it printed one, else its last line."""
        for line in reversed(self.tail):
            if line.startswith("Error:"):
                return line.removeprefix("Error:").strip()
        for line in reversed(self.tail):
            if line.strip():
                return line.strip()
        return "no output"


def display(module: str, args: list[str], redirect: str | None = None) -> str:
    shown = " ".join(
        [DISPLAY_NAMES.get(module, f"python -m {module}"), *(shlex.quote(a) for a in args)]
    )
    return f"{shown} > {redirect}" if redirect else shown


class Shell:
    def __init__(self, console: Console, cwd: Path, env: dict[str, str]):
        self.console = console
        self.cwd = cwd
        self.env = env
        self.current: subprocess.Popen[bytes] | None = None

    def announce(self, text: str) -> None:
        self.console.print(f"[bold green]$[/] [bold]{text}[/]", highlight=False, soft_wrap=True)

    def run(
        self,
        module: str,
        args: list[str],
        *,
        timeout: float,
        capture_to: Path | None = None,
        echo: bool = True,
        passthrough: bool = False,
    ) -> CommandResult:
        """Run `python -m module args...`; stream its output (or write stdout to `capture_to`).

        `passthrough` hands the child our terminal as is (for live progress bars); then no
        output is kept and the reason of a failure is only its exit code.
        """
        shown = display(
            module, args, redirect=str(capture_to.relative_to(self.cwd)) if capture_to else None
        )
        self.announce(shown)
        started = time.monotonic()
        env = self.env
        if capture_to is not None:  # a file gets plain text, never colour codes
            env = {k: v for k, v in env.items() if k != "FORCE_COLOR"}
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=None if passthrough else subprocess.PIPE,
            stderr=None
            if passthrough
            else subprocess.STDOUT
            if capture_to is None
            else subprocess.PIPE,
            start_new_session=True,
        )
        self.current = proc
        tail: deque[str] = deque(maxlen=40)
        chunks: list[bytes] = []
        readers = []
        if passthrough:
            pass
        elif capture_to is None:
            readers.append(
                threading.Thread(
                    target=self._pump, args=(proc.stdout, tail, echo, chunks), daemon=True
                )
            )
        else:
            readers.append(
                threading.Thread(target=self._collect, args=(proc.stdout, chunks), daemon=True)
            )
            readers.append(
                threading.Thread(
                    target=self._pump, args=(proc.stderr, tail, echo, None), daemon=True
                )
            )
        for reader in readers:
            reader.start()
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_current()
            tail.append(f"Error: timed out after {timeout:.0f} s")
            returncode = 124
        except BaseException:  # interrupted: the command must not outlive the demo
            self.kill_current()
            raise
        finally:
            for reader in readers:
                reader.join(timeout=5)
            self.current = None
        output = b"".join(chunks).decode(errors="replace")
        if capture_to is not None:
            capture_to.write_text(output)
        return CommandResult(shown, returncode, time.monotonic() - started, list(tail), output)

    def _pump(
        self, stream: IO[bytes] | None, tail: deque[str], echo: bool, chunks: list[bytes] | None
    ) -> None:
        if stream is None:
            return
        out = self.console.file
        for raw in iter(stream.readline, b""):
            if chunks is not None:
                chunks.append(raw)
            line = raw.decode(errors="replace")
            tail.append(line.rstrip("\n"))
            if echo:
                out.write("    " + line)
                out.flush()
        stream.close()

    @staticmethod
    def _collect(stream: IO[bytes] | None, chunks: list[bytes]) -> None:
        if stream is None:
            return
        for raw in iter(lambda: stream.read(65536), b""):
            chunks.append(raw)
        stream.close()

    def kill_current(self) -> None:
        """Stop the command running now (its whole process group: it was started in a new session)."""
        proc = self.current
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (ProcessLookupError, PermissionError):
            return
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
