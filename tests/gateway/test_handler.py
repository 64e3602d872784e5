"""The Lambda handler with API Gateway HTTP API payload v2 events (shape from the AWS docs)."""

from __future__ import annotations

import base64
import json
import re

from tests.gateway.support import EVENT, LambdaContext, token

CONTRACT_KEYS = [
    "level", "location", "message", "timestamp", "service", "cold_start", "function_name",
    "function_memory_size", "function_arn", "function_request_id", "xray_trace_id", "correlation_id",
    "method", "path", "route", "status", "latency_ms", "upstream", "upstream_latency_ms",
    "upstream_status", "user_id", "client_ip", "rate_limited", "request_bytes", "response_bytes",
]  # fmt: skip


def test_docs_example_event_unmatched_is_json_404(gw) -> None:
    from mangum import Mangum

    result = Mangum(gw.app, lifespan="off")(EVENT, LambdaContext())
    assert result["statusCode"] == 404
    body = json.loads(result["body"])
    assert body == {"error": {"code": "not_found", "message": "Not Found", "request_id": "id"}}
    (line,) = gw.access_lines()
    assert line["route"] == "unmatched" and line["correlation_id"] == "id"
    assert line["request_bytes"] == len("Hello from Lambda")


def test_health_live(gw) -> None:
    result = gw("GET", "/health/live")
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {"status": "ok"}
    assert result["headers"]["x-request-id"] == "req-1"


def test_health_ready_names_failed_table(make_gateway) -> None:
    ok = make_gateway()
    assert ok("GET", "/health/ready")["statusCode"] == 200
    bad = make_gateway(GATEWAY_SESSIONS_TABLE="missing-table")
    result = bad("GET", "/health/ready")
    assert result["statusCode"] == 503
    body = json.loads(result["body"])
    assert body["error"]["code"] == "not_ready"
    assert "sessions_table" in body["error"]["message"]
    assert body["checks"] == {
        "rate_limit_table": "ok",
        "sessions_table": "ResourceNotFoundException",
    }


def test_health_ready_is_cached(gw) -> None:
    gw("GET", "/health/ready")
    calls = gw.runtime.ddb.calls
    gw("GET", "/health/ready")
    assert gw.runtime.ddb.calls == calls


def test_proxied_post_with_body_and_query(gw, upstream) -> None:
    result = gw(
        "POST",
        "/api/users/42/orders",
        headers={"authorization": f"Bearer {token()}", "content-type": "application/json"},
        body=b'{"n":1}',
        query="a=1&b=%2F",
        request_id="apigw-req-7",
    )
    assert result["statusCode"] == 200
    seen = json.loads(result["body"])
    assert seen["method"] == "POST"
    assert seen["raw_target"] == "/42/orders?a=1&b=%2F"
    assert seen["body"] == '{"n":1}'
    headers = dict(seen["headers"])
    assert headers["x-request-id"] == "apigw-req-7"
    assert headers["x-user-id"] == "user-1"
    assert result["headers"]["ratelimit-policy"] == '"default";q=100;w=60'
    assert re.fullmatch(r'"default";r=99;t=\d+', result["headers"]["ratelimit"])


def test_binary_body_round_trips(gw) -> None:
    data = bytes(range(256))
    result = gw("PUT", "/api/users/blob", headers={"authorization": f"Bearer {token()}"}, body=data)
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["body"].encode("latin-1") == data


def test_access_line_contract_and_cold_start(gw, monkeypatch) -> None:
    monkeypatch.setattr("gateway.app._cold_start", True)  # as in a fresh process
    gw("GET", "/api/users/1", headers={"authorization": f"Bearer {token()}"}, request_id="r-a")
    gw("GET", "/health/live", request_id="r-b")
    first, second = gw.access_lines()
    assert list(first)[: len(CONTRACT_KEYS)] == CONTRACT_KEYS
    assert first["cold_start"] is True and second["cold_start"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["timestamp"])
    assert first["function_name"] == "gw-test-gateway"
    assert first["function_request_id"] == LambdaContext().aws_request_id
    assert first["function_memory_size"] == 512
    assert (first["route"], first["upstream"], first["upstream_status"], first["status"]) == (
        "/api/users",
        "users",
        200,
        200,
    )
    assert first["user_id"] == "user-1" and first["client_ip"] == "192.0.2.1"
    assert first["correlation_id"] == "r-a" and second["correlation_id"] == "r-b"
    assert isinstance(first["latency_ms"], float) and first["upstream_latency_ms"] > 0
    assert first["response_bytes"] > 0 and first["rate_limited"] is False
    assert len(json.dumps(first, separators=(",", ":"))) <= 700


def test_base64_response_for_binary_upstream(gw) -> None:
    result = gw("GET", "/api/users/chunked", headers={"authorization": f"Bearer {token()}"})
    assert result["statusCode"] == 200
    body = (
        base64.b64decode(result["body"]) if result["isBase64Encoded"] else result["body"].encode()
    )
    assert body == b"hello chunked world"


def test_unexpected_exception_is_json_500_without_traceback(gw, capfd) -> None:
    async def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    gw.runtime.proxy.forward = boom
    result = gw("GET", "/api/users/1", headers={"authorization": f"Bearer {token()}"})
    assert result["statusCode"] == 500
    assert json.loads(result["body"]) == {
        "error": {"code": "internal", "message": "internal error", "request_id": "req-1"}
    }
    captured = capfd.readouterr()
    assert "Traceback" not in gw.out.getvalue() + captured.out + captured.err
    errors = [line for line in gw.logs() if line["level"] == "ERROR"]
    assert [e["error_code"] for e in errors] == ["internal"] and "kaboom" in errors[0]["message"]
    (line,) = gw.access_lines()
    assert line["status"] == 500
