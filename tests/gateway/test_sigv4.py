"""The hand-written SigV4 signer produces exactly botocore's signature."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from gateway.sigv4 import Credentials, Signer


@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEXAMPLETOKEN"])
def test_matches_botocore(monkeypatch, token: str | None) -> None:
    body = b'{"TableName":"t","Key":{"k":{"S":"v"}}}'
    headers = {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": "DynamoDB_20120810.GetItem",
    }
    host = "dynamodb.eu-west-1.amazonaws.com"
    ours = dict(
        Signer("dynamodb", "eu-west-1").sign(
            Credentials("AKIDEXAMPLE", "secret/KEY", token), host, headers, body, "20261124T101500Z"
        )
    )

    request = AWSRequest(method="POST", url=f"https://{host}/", data=body, headers=dict(headers))
    fixed = dt.datetime(2026, 11, 24, 10, 15, 0)

    class FrozenDatetime(dt.datetime):
        @classmethod
        def utcnow(cls):
            return fixed

        @classmethod
        def now(cls, tz=None):
            return fixed.replace(tzinfo=tz) if tz else fixed

    monkeypatch.setattr("botocore.auth.datetime.datetime", FrozenDatetime)
    SigV4Auth(
        BotoCredentials("AKIDEXAMPLE", "secret/KEY", token), "dynamodb", "eu-west-1"
    ).add_auth(request)
    assert request.headers["X-Amz-Date"] == "20261124T101500Z"
    assert ours["authorization"] == request.headers["Authorization"]
    if token:
        assert ours["x-amz-security-token"] == token
