"""Opaque sessions: create, use, revoke one, revoke all; only the SHA-256 is stored."""

from __future__ import annotations

import hashlib
import json
import time

import boto3

from tests.gateway.support import token


def create(gw, sub: str = "alice") -> str:
    result = gw("POST", "/auth/sessions", headers={"authorization": f"Bearer {token(sub=sub)}"})
    assert result["statusCode"] == 201, result
    body = json.loads(result["body"])
    assert body["token_type"] == "Bearer" and 3590 <= body["expires_in"] <= 3600
    assert result["headers"]["cache-control"] == "no-store"
    return body["token"]


def test_session_lifecycle(gw, tables) -> None:
    session = create(gw)
    assert session.startswith("gws_") and len(session) >= 4 + 43  # 32 random bytes, base64url
    ok = gw("GET", "/api/users/x", headers={"authorization": f"Bearer {session}"})
    assert ok["statusCode"] == 200
    assert dict(json.loads(ok["body"])["headers"])["x-user-id"] == "alice"

    items = boto3.client("dynamodb", endpoint_url=tables, region_name="us-east-1").scan(
        TableName="gw-sessions"
    )["Items"]
    assert len(items) == 1
    assert items[0]["session_id"]["S"] == hashlib.sha256(session.encode()).hexdigest()
    assert session not in json.dumps(items)
    assert int(items[0]["expires_at"]["N"]) > time.time()

    revoked = gw("DELETE", "/auth/sessions/current", headers={"authorization": f"Bearer {session}"})
    assert revoked["statusCode"] == 204
    after = gw("GET", "/api/users/x", headers={"authorization": f"Bearer {session}"})
    assert after["statusCode"] == 401


def test_revoke_all_for_user_only(gw) -> None:
    a1, a2, b1 = create(gw, "alice"), create(gw, "alice"), create(gw, "bob")
    result = gw(
        "DELETE", "/auth/sessions", headers={"authorization": f"Bearer {token(sub='alice')}"}
    )
    assert result["statusCode"] == 200 and json.loads(result["body"]) == {"revoked": 2}
    for tok in (a1, a2):
        assert (
            gw("GET", "/api/users/x", headers={"authorization": f"Bearer {tok}"})["statusCode"]
            == 401
        )
    assert gw("GET", "/api/users/x", headers={"authorization": f"Bearer {b1}"})["statusCode"] == 200


def test_expired_session_not_trusted_to_ttl(gw, tables) -> None:
    session = create(gw)
    ddb = boto3.client("dynamodb", endpoint_url=tables, region_name="us-east-1")
    key = {"session_id": {"S": hashlib.sha256(session.encode()).hexdigest()}}
    ddb.update_item(
        TableName="gw-sessions",
        Key=key,
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 5)}},
    )
    result = gw("GET", "/api/users/x", headers={"authorization": f"Bearer {session}"})
    assert result["statusCode"] == 401  # item still there (moto, like DynamoDB, deletes lazily)
    assert "expired" in json.loads(result["body"])["error"]["message"]


def test_session_cannot_mint_session_and_jwt_cannot_revoke_current(gw) -> None:
    session = create(gw)
    again = gw("POST", "/auth/sessions", headers={"authorization": f"Bearer {session}"})
    assert again["statusCode"] == 400
    current = gw("DELETE", "/auth/sessions/current", headers={"authorization": f"Bearer {token()}"})
    assert current["statusCode"] == 400
    assert json.loads(current["body"])["error"]["code"] == "session_required"


def test_unknown_session_token(gw) -> None:
    result = gw("GET", "/api/users/x", headers={"authorization": "Bearer gws_" + "A" * 43})
    assert result["statusCode"] == 401


def test_session_store_failure_is_a_json_503(make_gateway) -> None:
    gw = make_gateway(GATEWAY_SESSIONS_TABLE="no-such-sessions-table")
    auth = {"authorization": f"Bearer {token(sub='alice')}"}
    for method, path, action in (
        ("POST", "/auth/sessions", "store the session"),
        ("DELETE", "/auth/sessions", "revoke sessions"),
    ):
        result = gw(method, path, headers=auth)
        assert result["statusCode"] == 503, result
        error = json.loads(result["body"])["error"]
        assert error["code"] == "session_store_unavailable"
        assert error["message"].startswith(f"could not {action}: ") and error["request_id"]
    assert "Traceback" not in gw.out.getvalue()
