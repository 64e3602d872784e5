"""The access line's `auth` field: which credential the gateway checked (the cost model counts
one DynamoDB session read per `"session"` line)."""

from __future__ import annotations

import json

from tests.gateway.support import token


def test_access_line_says_which_credential_was_checked(gw) -> None:
    created = gw("POST", "/auth/sessions", headers={"authorization": f"Bearer {token()}"})
    assert created["statusCode"] == 201
    session = json.loads(created["body"])["token"]
    gw("GET", "/api/users/x", headers={"authorization": f"Bearer {session}"})
    gw("GET", "/api/users/x", headers={"authorization": "Bearer gws_" + "A" * 43})  # unknown: 401
    gw("GET", "/api/users/x", headers={"authorization": "Basic dXNlcjpwYXNz"})
    gw("GET", "/health/live")
    lines = gw.access_lines()
    assert [(line["status"], line["auth"]) for line in lines] == [
        (201, "jwt"),
        (200, "session"),
        (401, "session"),  # the lookup was still made (and billed)
        (401, None),
        (200, None),
    ]
    # appended after the contract keys
    assert list(lines[0])[-3:] == ["auth", "limiter", "error_code"]
    assert [line["error_code"] for line in lines] == [
        None,
        None,
        "unauthorized",
        "unauthorized",
        None,
    ]
