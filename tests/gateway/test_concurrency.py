"""200 concurrent requests, limit 50, two gateway processes sharing one table: exactly 50 pass."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.gateway.processes import SerializedMotoServer, UvicornGateway
from tests.gateway.support import create_tables, gateway_env, json_lines, token


@pytest.fixture
def atomic_moto(moto):
    """Shares moto's in-process state with the `moto` fixture, which resets it first."""
    with SerializedMotoServer() as server:
        create_tables(server.url)
        yield server.url


@pytest.mark.slow
def test_two_processes_admit_exactly_the_limit(atomic_moto, upstream) -> None:
    # A one-day window so the burst cannot straddle a window boundary.
    # Generous AWS timeouts: this shared 2-core machine must not turn a slow accept into fail-open.
    env = gateway_env(
        atomic_moto,
        upstream.url,
        GATEWAY_RATE_LIMIT="50/86400",
        GATEWAY_AWS_TIMEOUT="15",
        GATEWAY_AWS_CONNECT_TIMEOUT="10",
    )
    gateways = [UvicornGateway(env), UvicornGateway(env)]
    try:
        for gw in gateways:
            gw.wait_ready()
        tok = token(sub="burst-user", exp_in=600)

        async def burst() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
            async with httpx.AsyncClient(limits=limits, timeout=30) as client:
                return await asyncio.gather(
                    *(
                        client.get(
                            f"{gateways[i % 2].url}/api/users/item/{i}",
                            headers={
                                "authorization": f"Bearer {tok}",
                                "x-request-id": f"burst-{i}",
                            },
                        )
                        for i in range(200)
                    )
                )

        responses = asyncio.run(burst())
        statuses = [r.status_code for r in responses]
        assert statuses.count(200) == 50, statuses
        assert statuses.count(429) == 150
        assert all(r.headers["x-request-id"] == f"burst-{i}" for i, r in enumerate(responses))
        blocked = next(r for r in responses if r.status_code == 429)
        assert int(blocked.headers["retry-after"]) > 0
        assert json.loads(blocked.content)["error"]["code"] == "rate_limited"
        served = {r.status_code for r in responses[0::2]} | {r.status_code for r in responses[1::2]}
        assert served == {200, 429}
    finally:
        for gw in gateways:
            gw.stop()
    lines = [
        line
        for gw in gateways
        for line in json_lines(gw.output())
        if line.get("message") == "request"
    ]
    api = [line for line in lines if line["route"] == "/api/users"]
    assert len(api) == 200
    assert sum(line["rate_limited"] for line in api) == 150
    assert {line["correlation_id"] for line in api} == {f"burst-{i}" for i in range(200)}
    assert sum(line["cold_start"] for line in lines) == 2  # one per process
