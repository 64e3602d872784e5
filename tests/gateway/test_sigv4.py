"""The hand-written SigV4 signer produces exactly botocore's signature."""

from __future__ import annotations

import datetime as dt
import random

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


def test_matches_botocore_on_3000_random_requests(monkeypatch) -> None:
    """The differential the signer is kept on: 3,000 seeded random requests (bodies, regions,
    services, dates, tokens, targets, secrets, ports), botocore's SigV4Auth as the oracle."""
    rng = random.Random(11)
    printable = [chr(c) for c in range(0x20, 0x7F)]

    def text(n: int) -> str:
        return "".join(rng.choice(printable) for _ in range(rng.randint(1, n)))

    current = {"when": dt.datetime(2026, 1, 1)}

    class FrozenDatetime(dt.datetime):
        @classmethod
        def utcnow(cls):
            return current["when"]

        @classmethod
        def now(cls, tz=None):
            return current["when"].replace(tzinfo=tz) if tz else current["when"]

    monkeypatch.setattr("botocore.auth.datetime.datetime", FrozenDatetime)
    for _ in range(3000):
        service = rng.choice(["dynamodb", "secretsmanager"])
        region = rng.choice(["us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1"])
        port = rng.choice([None, None, rng.randint(1, 65535)])
        host = f"{service}.{region}.amazonaws.com" + (f":{port}" if port and port != 443 else "")
        body = rng.randbytes(rng.randint(0, 300))
        token = rng.choice([None, text(60)])
        secret = text(40)
        headers = {"content-type": "application/x-amz-json-1.0", "x-amz-target": text(40)}
        when = dt.datetime(2000, 1, 1) + dt.timedelta(seconds=rng.randint(0, 3_155_760_000))
        current["when"] = when
        ours = dict(
            Signer(service, region).sign(
                Credentials("AKIDEXAMPLE", secret, token), host, headers, body,
                when.strftime("%Y%m%dT%H%M%SZ"),
            )
        )  # fmt: skip
        request = AWSRequest(
            method="POST", url=f"https://{host}/", data=body, headers=dict(headers)
        )
        SigV4Auth(BotoCredentials("AKIDEXAMPLE", secret, token), service, region).add_auth(request)
        assert ours["authorization"] == request.headers["Authorization"], (host, headers, token)
        assert ours["x-amz-date"] == request.headers["X-Amz-Date"]
