"""Fixed-window rate limiting: one conditional UpdateItem per request, headers, fail open/closed."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from tests.conftest import free_port
from tests.gateway.support import token


def get(gw, tok: str) -> dict:
    return gw("GET", "/api/users/x", headers={"authorization": f"Bearer {tok}"})


def test_limit_then_429_with_retry_after(make_gateway) -> None:
    gw = make_gateway(GATEWAY_RATE_LIMIT="3/60")
    tok = token(sub="limited")
    remaining = []
    for _ in range(3):
        result = get(gw, tok)
        assert result["statusCode"] == 200
        remaining.append(result["headers"]["ratelimit"].split(";")[1])
    assert remaining == ["r=2", "r=1", "r=0"]
    blocked = get(gw, tok)
    assert blocked["statusCode"] == 429
    body = json.loads(blocked["body"])
    assert body["error"]["code"] == "rate_limited" and body["error"]["request_id"] == "req-1"
    assert 1 <= int(blocked["headers"]["retry-after"]) <= 60
    assert blocked["headers"]["ratelimit-policy"] == '"default";q=3;w=60'
    assert get(gw, token(sub="someone-else"))["statusCode"] == 200  # keyed per principal
    lines = gw.access_lines()
    assert [line["rate_limited"] for line in lines] == [False, False, False, True, False]
    assert lines[3]["upstream_status"] is None  # never reached the upstream


def test_exactly_one_update_item_per_jwt_request(gw, tables) -> None:
    before = gw.runtime.ddb.calls
    for _ in range(5):
        assert get(gw, token(sub="counter"))["statusCode"] == 200
    assert gw.runtime.ddb.calls - before == 5
    items = boto3.client("dynamodb", endpoint_url=tables, region_name="us-east-1").scan(
        TableName="gw-rate-limits"
    )["Items"]
    (item,) = [i for i in items if i["limiter_key"]["S"] == "user:counter"]
    assert item["c"]["N"] == "5"
    window = int(item["window_start"]["N"])
    assert window % 60 == 0 and window <= time.time() < window + 60
    assert int(item["expires_at"]["N"]) >= window + 60  # TTL attribute set on the window item


def test_stale_window_item_is_not_trusted(make_gateway, tables) -> None:
    gw = make_gateway(GATEWAY_RATE_LIMIT="2/60")
    ddb = boto3.client("dynamodb", endpoint_url=tables, region_name="us-east-1")
    old = int(time.time()) // 60 * 60 - 60
    ddb.put_item(  # last window full, TTL already passed, not yet deleted
        TableName="gw-rate-limits",
        Item={"limiter_key": {"S": "user:stale"}, "window_start": {"N": str(old)}, "c": {"N": "2"},
              "expires_at": {"N": str(old)}},
    )  # fmt: skip
    assert get(gw, token(sub="stale"))["statusCode"] == 200


def test_failed_auth_counts_against_client_ip(make_gateway) -> None:
    gw = make_gateway(GATEWAY_RATE_LIMIT="2/60")
    codes = [get(gw, "garbage.token.here")["statusCode"] for _ in range(3)]
    assert codes == [401, 401, 429]


@pytest.mark.parametrize("how", ["unreachable", "missing_table"])
def test_fail_open(make_gateway, how: str) -> None:
    extra = (
        {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
        if how == "unreachable"
        else {"GATEWAY_RATE_LIMIT_TABLE": "no-such-table"}
    )
    gw = make_gateway(GATEWAY_RATE_LIMIT_FAILURE_MODE="open", **extra)
    result = get(gw, token())
    assert result["statusCode"] == 200
    assert "ratelimit" not in result["headers"]  # no numbers we could not compute
    errors = [line for line in gw.logs() if line["level"] == "ERROR"]
    assert [e["error_code"] for e in errors] == ["rate_limit_unavailable"]
    assert "failing open" in errors[0]["message"]


@pytest.mark.parametrize("how", ["unreachable", "missing_table"])
def test_fail_closed(make_gateway, how: str) -> None:
    extra = (
        {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
        if how == "unreachable"
        else {"GATEWAY_RATE_LIMIT_TABLE": "no-such-table"}
    )
    gw = make_gateway(GATEWAY_RATE_LIMIT_FAILURE_MODE="closed", **extra)
    result = get(gw, token())
    assert result["statusCode"] == 503
    assert json.loads(result["body"])["error"]["code"] == "rate_limit_unavailable"
    assert result["headers"]["retry-after"] == "1"
    assert "Traceback" not in gw.out.getvalue()
