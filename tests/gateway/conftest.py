"""Gateway fixtures: tables on the moto server, a real upstream, and a Lambda-handler invoker."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.gateway.support import LambdaContext, create_tables, event, gateway_env, json_lines
from tests.gateway.upstream import UpstreamServer


@pytest.fixture
def tables(moto: str) -> str:
    create_tables(moto)
    return moto


@pytest.fixture(scope="session")
def upstream() -> Iterator[UpstreamServer]:
    with UpstreamServer() as server:
        yield server


class Gateway:
    """Invoke the Lambda handler with payload-v2 events; capture the app's stdout log lines."""

    def __init__(self, env: dict[str, str]) -> None:
        from gateway.app import create_app
        from gateway.lambda_adapter import lambda_handler

        self.out = io.StringIO()
        self.app = create_app(env, stream=self.out)
        self.handler = lambda_handler(self.app)
        self.runtime = self.app.state.runtime

    def __call__(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        context = kwargs.pop("context", LambdaContext())
        return self.handler(event(method, path, **kwargs), context)

    def logs(self) -> list[dict[str, Any]]:
        return json_lines(self.out.getvalue())

    def access_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.logs() if line.get("message") == "request"]


@pytest.fixture
def make_gateway(tables: str, upstream: UpstreamServer) -> Callable[..., Gateway]:
    def make(**overrides: str) -> Gateway:
        return Gateway(gateway_env(tables, upstream.url, **overrides))

    return make


@pytest.fixture
def gw(make_gateway: Callable[..., Gateway]) -> Gateway:
    return make_gateway()
