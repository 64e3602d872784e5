"""Deploy building blocks: the package cache, parameters, the smoke test, the plain event lines."""

from __future__ import annotations

import http.server
import threading
from types import SimpleNamespace

import pytest
from rich.console import Console

from opskit.deploy.artifacts import cached_build
from opskit.deploy.smoke import smoke_test
from opskit.deploy.template import build_parameters, parse_template
from opskit.deploy.ui import TerminalUI
from opskit.errors import EXIT_CHECK_FAILED, CheckFailed, ConfigError
from opskit.terminal import Terminal


def fake_builder(calls: list[str]):
    def build(project_root, out_dir, *, architecture, python_version, cache_dir):
        calls.append(architecture)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"gateway-{architecture}.zip"
        path.write_bytes((project_root / "gateway" / "app.py").read_bytes())
        return SimpleNamespace(path=path)

    return build


def test_package_is_rebuilt_only_when_an_input_changes(tmp_path):
    (tmp_path / "gateway").mkdir()
    (tmp_path / "gateway" / "app.py").write_text("v = 1\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.opskit]\nlambda-dependencies = ["fastapi>=0.110"]\n'
    )
    calls: list[str] = []
    build = fake_builder(calls)
    first = cached_build(tmp_path, tmp_path / ".opskit", "arm64", "3.12", build)
    again = cached_build(tmp_path, tmp_path / ".opskit", "arm64", "3.12", build)
    assert (first.cached, again.cached, calls) == (False, True, ["arm64"])
    assert again.sha256 == first.sha256 and again.path.read_bytes() == b"v = 1\n"
    (tmp_path / "gateway" / "__pycache__").mkdir()
    (tmp_path / "gateway" / "__pycache__" / "app.cpython-312.pyc").write_bytes(b"junk")
    assert cached_build(tmp_path, tmp_path / ".opskit", "arm64", "3.12", build).cached
    (tmp_path / "gateway" / "app.py").write_text("v = 2\n")
    changed = cached_build(tmp_path, tmp_path / ".opskit", "arm64", "3.12", build)
    assert not changed.cached and changed.sha256 != first.sha256
    assert not cached_build(tmp_path, tmp_path / ".opskit", "x86_64", "3.12", build).cached
    assert calls == ["arm64", "arm64", "x86_64"]


def test_parameters_precedence_and_unknown_keys():
    template = parse_template(
        "Parameters:\n  MemorySize: {Type: Number}\n  ArtifactKey: {Type: String}\n  Environment: {Type: String}\n"
        "Resources:\n  T: {Type: 'AWS::SNS::Topic', Properties: {TopicName: !Sub '${Environment}-t'}}\n"
    )
    assert template["Resources"]["T"]["Properties"]["TopicName"] == {"Fn::Sub": "${Environment}-t"}
    params, ignored = build_parameters(
        template,
        {"MemorySize": "512", "LogRetentionDays": "7"},
        {"MemorySize": "1024"},
        {"ArtifactKey": "gateway/abc.zip", "Environment": "dev", "Project": "opskit"},
    )
    assert params == [
        {"ParameterKey": "ArtifactKey", "ParameterValue": "gateway/abc.zip"},
        {"ParameterKey": "Environment", "ParameterValue": "dev"},
        {"ParameterKey": "MemorySize", "ParameterValue": "1024"},
    ]
    assert ignored == ["LogRetentionDays"]
    with pytest.raises(ConfigError, match="unknown parameter Nope"):
        build_parameters(template, {}, {"Nope": "1"}, {})


class Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # http.server API
        self.send_response(self.status if self.path == "/health/ready" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_smoke_test_passes_on_200_and_fails_clearly(health_server):
    url = f"http://127.0.0.1:{health_server.server_address[1]}/"
    assert smoke_test(url, sleep=lambda s: None).status == 200
    Health.status = 503
    try:
        with pytest.raises(CheckFailed) as info:
            smoke_test(url, sleep=lambda s: None, attempts=2)
    finally:
        Health.status = 200
    assert info.value.exit_code == EXIT_CHECK_FAILED
    assert info.value.format_line() == (
        f"smoke test GET {url}health/ready failed: the deployed gateway is not ready: "
        "HTTP 503 after 2 attempts (the stack is deployed with this configuration: fix the "
        "parameter named above and deploy again (see `opskit logs tail` for the function's errors))"
    )


def test_plain_event_lines_and_waiting_when_not_interactive(capsys):
    terminal = Terminal(console=Console(width=200), err_console=Console(stderr=True, width=200))
    with TerminalUI(terminal) as ui:
        ui.event({"LogicalResourceId": "Function", "ResourceType": "AWS::Lambda::Function",
                  "ResourceStatus": "UPDATE_FAILED", "ResourceStatusReason": "Memory [10] too small"}, 3.25)  # fmt: skip
        ui.waiting("UPDATE_IN_PROGRESS", 1.0)
        ui.waiting("UPDATE_IN_PROGRESS", 5.0)  # throttled: one line per 15 s when not interactive
        ui.waiting("UPDATE_IN_PROGRESS", 17.0)
    assert capsys.readouterr().err.splitlines() == [
        "   3.2s  Function  AWS::Lambda::Function  UPDATE_FAILED  Memory [10] too small",
        "  waiting: UPDATE_IN_PROGRESS (1 s elapsed)",
        "  waiting: UPDATE_IN_PROGRESS (17 s elapsed)",
    ]


def test_interactive_events_render_in_a_live_table():
    import io

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160)
    terminal = Terminal(console=console, err_console=console)

    class Interactive(TerminalUI):
        @property
        def interactive(self) -> bool:  # what a real terminal gives
            return True

    with Interactive(terminal) as ui:
        ui.event(
            {
                "LogicalResourceId": "Function",
                "ResourceType": "AWS::Lambda::Function",
                "ResourceStatus": "UPDATE_IN_PROGRESS",
            },
            1.0,
        )
        ui.event(
            {
                "LogicalResourceId": "RateLimitTable",
                "ResourceType": "AWS::DynamoDB::Table",
                "ResourceStatus": "UPDATE_FAILED",
                "ResourceStatusReason": "Throttled",
            },
            2.0,
        )
        assert ui.live is not None
    assert ui.live is None  # stopped on exit
    text = buffer.getvalue()
    for cell in ("elapsed", "resource", "Function", "RateLimitTable", "UPDATE_FAILED", "Throttled"):
        assert cell in text
