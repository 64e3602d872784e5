"""Shared fixtures: a moto server over real HTTP on 127.0.0.1, isolated AWS settings."""

from __future__ import annotations

import os
import socket

import pytest
import requests

# Never let a test reach a real account, whatever the developer's shell has.
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    AWS_CONFIG_FILE=os.devnull,
    AWS_SHARED_CREDENTIALS_FILE=os.devnull,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server():
    """A moto server in this process's threads, spoken to over HTTP. Yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    requests.post(
        f"{endpoint}/moto-api/config", json={"lambda": {"use_docker": False}}, timeout=10
    ).raise_for_status()
    yield endpoint
    server.stop()


@pytest.fixture
def moto(moto_server):
    """A clean moto account for one test: the server is shared, its state is reset."""
    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    requests.post(
        f"{moto_server}/moto-api/config", json={"lambda": {"use_docker": False}}, timeout=10
    ).raise_for_status()
    return moto_server


@pytest.fixture
def clients(moto):
    """A ClientFactory whose every client talks to the moto server."""
    from opskit.aws import ClientFactory

    return ClientFactory("us-east-1", endpoint_url=moto)


@pytest.fixture
def local_env(tmp_path, monkeypatch, moto):
    """Run opskit commands with `--env local` against the test moto server, in a temp project."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    config = tmp_path / "opskit.toml"
    config.write_text((root / "opskit.toml").read_text())
    monkeypatch.setenv("OPSKIT_CONFIG", str(config))
    monkeypatch.setenv("OPSKIT_ENDPOINT_URL", moto)
    monkeypatch.chdir(tmp_path)
    return tmp_path
