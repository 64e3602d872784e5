"""JWT keys change and headers lie: JWKS single flight and negative caching, rotation that
invalidates cached tokens, a maximum token lifetime, Secrets Manager rotation, hostile headers."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gateway import auth as auth_module
from gateway.aws import request_deadline
from gateway.errors import GatewayError
from tests.gateway.conftest import Gateway
from tests.gateway.support import SECRET, gateway_env, token

KEY1 = ec.generate_private_key(ec.SECP256R1())
KEY2 = ec.generate_private_key(ec.SECP256R1())


def jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict:
    return {
        **json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())),
        "kid": kid,
        "alg": "ES256",
        "use": "sig",
    }


def es_token(key: ec.EllipticCurvePrivateKey, kid: str, sub: str = "u1", exp_in: int = 300) -> str:
    return jwt.encode(
        {"sub": sub, "exp": int(time.time()) + exp_in}, key, algorithm="ES256", headers={"kid": kid}
    )


class JwksServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def do_GET(self) -> None:
                with server.lock:
                    server.fetches += 1
                    delay, keys = server.delay, server.keys
                time.sleep(delay)
                data = json.dumps({"keys": keys}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.fetches = 0
        self.delay = 0.0
        self.keys: list[dict] = [jwk(KEY1, "k1")]
        self.url = f"http://127.0.0.1:{self.server_address[1]}/jwks.json"
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    server = JwksServer()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def jwks_gw(tables: str, upstream, jwks: JwksServer) -> Gateway:
    return Gateway(
        gateway_env(tables, upstream.url, GATEWAY_JWT_SECRET="", GATEWAY_JWKS_URL=jwks.url)
    )


def call(gw: Gateway, tok: str) -> dict:
    return gw("GET", "/api/users/me", headers={"authorization": f"Bearer {tok}"})


def test_concurrent_requests_share_one_jwks_fetch(jwks_gw: Gateway, jwks: JwksServer) -> None:
    """Issue 11: 20 concurrent requests made 20 fetches."""
    jwks.delay = 0.3
    authenticator = jwks_gw.runtime.auth

    async def burst() -> list:
        tokens = [es_token(KEY1, "k1", sub=f"user-{i}") for i in range(20)]
        return await asyncio.gather(*(authenticator.verify_jwt(t) for t in tokens))

    principals = asyncio.run(burst())
    assert [p.user_id for p in principals] == [f"user-{i}" for i in range(20)]
    assert jwks.fetches == 1


def test_a_hanging_jwks_costs_one_request_not_every_request(
    jwks_gw: Gateway, jwks: JwksServer
) -> None:
    """Issue 11: a hanging JWKS cost every request 3 s. Now one fetch times out, and the
    requests after it are answered at once (negative cache with backoff) without a fetch."""
    jwks.delay = 2.0
    authenticator = jwks_gw.runtime.auth

    async def attempt() -> int:
        try:
            with request_deadline(0.3):
                await authenticator.verify_jwt(es_token(KEY1, "k1"))
        except GatewayError as exc:
            return exc.status
        return 200

    async def several() -> list[int]:
        return [await attempt() for _ in range(6)]

    assert asyncio.run(several()) == [503] * 6
    assert jwks.fetches == 1
    assert authenticator._jwks_backoff.failures == 1


def test_removing_a_key_from_the_jwks_invalidates_its_cached_tokens(
    jwks_gw: Gateway, jwks: JwksServer, monkeypatch
) -> None:
    """Issue 11: a token accepted before its key was removed stayed valid (cache outlived rotation)."""
    old = es_token(KEY1, "k1", sub="before")
    assert call(jwks_gw, old)["statusCode"] == 200
    assert call(jwks_gw, old)["statusCode"] == 200  # from the verified-token cache
    jwks.keys = [jwk(KEY2, "k2")]  # k1 rotated out
    monkeypatch.setattr(auth_module, "_JWKS_TTL", 0.0)  # the JWKS is due for its refresh
    call(jwks_gw, old)  # starts the background refresh (still served with the keys in hand)
    deadline = time.monotonic() + 5
    while "k1" in jwks_gw.runtime.auth._jwks and time.monotonic() < deadline:
        call(jwks_gw, es_token(KEY2, "k2"))  # lets the background refresh finish
    monkeypatch.setattr(auth_module, "_JWKS_TTL", 300.0)
    result = call(jwks_gw, old)
    assert result["statusCode"] == 401
    assert "not accepted" in json.loads(result["body"])["error"]["message"]
    assert call(jwks_gw, es_token(KEY2, "k2"))["statusCode"] == 200


def test_an_unchanged_key_keeps_its_cached_tokens(jwks_gw: Gateway, jwks: JwksServer) -> None:
    tok = es_token(KEY1, "k1")
    assert call(jwks_gw, tok)["statusCode"] == 200
    before = jwks_gw.runtime.auth._jwks["k1"]
    loop = asyncio.new_event_loop()  # not asyncio.run: it would unset Mangum's loop
    loop.run_until_complete(jwks_gw.runtime.auth._fetch_jwks())
    loop.close()
    assert jwks_gw.runtime.auth._jwks["k1"] is before
    assert call(jwks_gw, tok)["statusCode"] == 200


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"iat": 0, "exp": 2 * 86_400}, 401),
        ({"exp": 3 * 86_400}, 401),
        ({"iat": 0, "exp": 3600}, 200),
    ],
)
def test_maximum_token_lifetime(gw: Gateway, claims: dict, expected: int) -> None:
    now = int(time.time())
    payload = {"sub": "long", **{k: now + v for k, v in claims.items()}}
    result = call(gw, jwt.encode(payload, SECRET, algorithm="HS256"))
    assert result["statusCode"] == expected
    if expected == 401:
        assert "lifetime" in json.loads(result["body"])["error"]["message"]


def test_maximum_token_lifetime_is_configurable(make_gateway) -> None:
    gw = make_gateway(GATEWAY_JWT_MAX_LIFETIME="0")
    now = int(time.time())
    assert (
        call(
            gw,
            jwt.encode(
                {"sub": "u", "iat": now, "exp": now + 90 * 86_400}, SECRET, algorithm="HS256"
            ),
        )["statusCode"]
        == 200
    )


def b64(data: dict) -> str:
    return (
        base64.urlsafe_b64encode(json.dumps(data, ensure_ascii=False).encode())
        .rstrip(b"=")
        .decode()
    )


@pytest.mark.parametrize(
    "alg", ["HS256\u674e", 'HS"256', 'x", error="injected', "RS256\r\nX-Evil: 1", "\u0000"]
)
def test_hostile_alg_is_a_clean_401(gw: Gateway, alg: str) -> None:
    """Issue 11: a non-Latin-1 ``alg`` gave 500; one with ``"`` was injected into WWW-Authenticate."""
    forged = (
        f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64({'sub': 'x', 'exp': int(time.time()) + 60})}.c2ln"
    )
    result = call(gw, forged)
    assert result["statusCode"] == 401
    challenge = result["headers"]["www-authenticate"]
    challenge.encode("ascii")
    assert challenge.count('"') == 6  # realm, error, error_description: nothing else quoted
    assert "\r" not in challenge and "\n" not in challenge and "injected" not in challenge


@pytest.mark.parametrize("kid", [7, ["k1"], {"a": 1}])
def test_non_string_kid_is_a_401(jwks_gw: Gateway, kid: object) -> None:
    header = b64({"alg": "ES256", "kid": kid})
    result = call(jwks_gw, f"{header}.{b64({'sub': 'x', 'exp': int(time.time()) + 60})}.c2ln")
    assert result["statusCode"] == 401


def secret_gateway(
    tables: str, upstream, monkeypatch, reread: float | None = None
) -> tuple[Gateway, object, str]:
    sm = boto3.client("secretsmanager", endpoint_url=tables, region_name="us-east-1")
    arn = sm.create_secret(Name=f"gw/jwt-{time.monotonic_ns()}", SecretString=SECRET)["ARN"]
    if reread is not None:
        monkeypatch.setattr(auth_module, "_SECRET_REREAD", reread)
    gw = Gateway(
        gateway_env(tables, upstream.url, GATEWAY_JWT_SECRET="", GATEWAY_JWT_SECRET_ARN=arn)
    )
    return gw, sm, arn


NEW_SECRET = "the-rotated-secret-that-is-32-bytes-or-more!"


def test_secret_rotation_is_picked_up_on_a_failed_signature(
    tables: str, upstream, monkeypatch
) -> None:
    """Issue 11: the Secrets Manager secret was never re-read, so rotation was never picked up."""
    gw, sm, arn = secret_gateway(tables, upstream, monkeypatch, reread=0.0)
    old = token(sub="old")
    assert call(gw, old)["statusCode"] == 200
    sm.put_secret_value(SecretId=arn, SecretString=NEW_SECRET)
    assert call(gw, token(sub="new", key=NEW_SECRET))["statusCode"] == 200
    assert gw.runtime.auth.secrets.calls == 2
    assert call(gw, old)["statusCode"] == 401  # the cached token went with its secret


def test_secret_is_reread_at_most_once_a_minute(tables: str, upstream, monkeypatch) -> None:
    gw, sm, arn = secret_gateway(tables, upstream, monkeypatch)
    assert call(gw, token())["statusCode"] == 200
    for _ in range(5):  # forged tokens must not make the gateway hammer Secrets Manager
        assert call(gw, token(key="an-attacker-key-that-is-32-bytes-long!!"))["statusCode"] == 401
    assert gw.runtime.auth.secrets.calls == 1


def test_unreachable_secret_answers_without_internals(tables: str, upstream) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gw/missing-AbCdEf"
    gw = Gateway(
        gateway_env(tables, upstream.url, GATEWAY_JWT_SECRET="", GATEWAY_JWT_SECRET_ARN=arn)
    )
    result = call(gw, token())
    assert result["statusCode"] == 503
    assert (
        json.loads(result["body"])["error"]["message"]
        == "authentication is temporarily unavailable; try again"
    )
    for internal in ("123456789012", "arn:aws", "ResourceNotFound", "gw/missing"):
        assert internal not in result["body"]
    errors = [line for line in gw.logs() if line.get("error_code") == "auth_unavailable"]
    assert errors and "ResourceNotFoundException" in errors[0]["message"]
    assert call(gw, token())["statusCode"] == 503
    assert gw.runtime.auth.secrets.calls == 1  # backing off: no second read within a second


def test_a_subject_with_a_lone_surrogate_is_refused(gw: Gateway) -> None:
    """JSON can carry "\\ud800"; as a limiter key DynamoDB would refuse it (ValidationException),
    which must not turn into the limiter's failure mode."""
    body = '{"sub":"\\ud800x","exp":' + str(int(time.time()) + 60) + "}"
    header = b64({"alg": "HS256", "typ": "JWT"})
    payload = base64.urlsafe_b64encode(body.encode()).rstrip(b"=").decode()
    import hashlib
    import hmac

    sig = hmac.new(SECRET.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{payload}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"
    result = call(gw, forged)
    assert result["statusCode"] == 401
    assert "subject" in json.loads(result["body"])["error"]["message"]
