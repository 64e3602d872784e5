"""Logs: redaction at any depth, a real token never printed, one access line per request."""

from __future__ import annotations

import io
import json

from gateway.log import REDACTED, GatewayLogger, redact_processor
from tests.gateway.support import token


def test_redaction_processor_any_depth() -> None:
    jwt_value = token()
    event = {
        "event": "x",
        "headers": {"Authorization": f"Bearer {jwt_value}", "Cookie": "sid=1", "accept": "*/*"},
        "nested": [{"deeper": {"client_secret": "s3cr3t", "note": f"got {jwt_value} from client"}}],
        "password": "hunter2",
        "db_password": "hunter3",
        "message_with_bearer": "header was Bearer abc.def.ghi",
        "session": "gws_" + "Z" * 43,
        "count": 3,
    }
    out = redact_processor(None, "info", event)
    text = json.dumps(out)
    for secret in (jwt_value, "sid=1", "s3cr3t", "hunter2", "hunter3", "abc.def.ghi", "Z" * 43):
        assert secret not in text, secret
    assert out["headers"]["Authorization"] == REDACTED and out["headers"]["accept"] == "*/*"
    assert out["nested"][0]["deeper"]["note"] == f"got {REDACTED} from client"
    assert out["count"] == 3


def test_logger_redacts_error_lines() -> None:
    stream = io.StringIO()
    jwt_value = token()
    GatewayLogger(stream=stream).error(
        "oops", f"failed with Bearer {jwt_value}", detail={"token": jwt_value}
    )
    line = json.loads(stream.getvalue())
    assert jwt_value not in stream.getvalue()
    assert line["level"] == "ERROR" and line["error_code"] == "oops"


def test_real_token_never_in_captured_output(gw, capfd) -> None:
    jwt_value = token(sub="redaction-user")
    created = gw("POST", "/auth/sessions", headers={"authorization": f"Bearer {jwt_value}"})
    session = json.loads(created["body"])["token"]
    gw(
        "GET",
        "/api/users/x",
        headers={"authorization": f"Bearer {jwt_value}", "cookie": f"t={jwt_value}"},
        query=f"token={jwt_value}",
    )
    gw("GET", "/api/users/x", headers={"authorization": f"Bearer {session}"})
    gw(
        "GET", "/api/users/x", headers={"authorization": f"Bearer {jwt_value[:-3]}xyz"}
    )  # tampered -> 401
    gw("DELETE", "/auth/sessions/current", headers={"authorization": f"Bearer {session}"})
    gw("GET", "/api/users/x", headers={"authorization": f"Bearer {session}"})  # revoked -> 401
    captured = capfd.readouterr()
    everything = gw.out.getvalue() + captured.out + captured.err
    assert len(gw.access_lines()) == 6
    assert jwt_value not in everything and jwt_value.split(".")[2] not in everything
    assert session not in everything


def test_one_access_line_per_request_even_on_errors(gw) -> None:
    gw("GET", "/health/live")
    gw("GET", "/nope")
    gw("GET", "/api/users/x")  # 401
    gw("GET", "/api/users/../x", headers={"authorization": f"Bearer {token()}"})  # 400
    lines = gw.access_lines()
    assert [(line["route"], line["status"]) for line in lines] == [
        ("/health/live", 200),
        ("unmatched", 404),
        ("/api/users", 401),
        ("/api/users", 400),
    ]
