"""Run the gateway under uvicorn in a subprocess (as `make demo` and the local account do)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


class UvicornGateway:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the process object
        full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.serve", "gateway.app:app", "--host", "127.0.0.1", "--port", str(self.port),
             "--no-access-log", "--log-level", "warning"],
            cwd=ROOT, env=full_env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited: {self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health/live", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"gateway on {self.url} not ready: {self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class SerializedMotoServer:
    """A moto server over HTTP whose requests are applied one at a time.

    moto applies a conditional UpdateItem as read-check-write without a lock, so concurrent
    requests race (measured: 78 of 200 admitted against a limit of 50). DynamoDB applies
    conditional writes atomically per item; serializing moto's request handling restores that
    guarantee without changing anything else about the API.
    """

    def __init__(self) -> None:
        import threading

        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()

        def serialized(environ, start_response):
            with lock:
                return list(app(environ, start_response))

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = make_server(
            "127.0.0.1", self.port, serialized, True, request_handler=MotoRequestHandler
        )
        self._server.socket.listen(
            1024
        )  # socketserver's default backlog of 5 drops a 200-request burst
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SerializedMotoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join()
