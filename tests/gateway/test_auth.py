"""JWT and session authentication, including the classic attacks."""

from __future__ import annotations

import base64
import json
import time

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.gateway.support import SECRET, token

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC_PEM = (
    RSA_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def call(gw, tok: str | None, path: str = "/api/users/me") -> dict:
    headers = {"authorization": f"Bearer {tok}"} if tok is not None else {}
    return gw("GET", path, headers=headers)


def assert_401(result: dict, fragment: str) -> None:
    assert result["statusCode"] == 401, result
    body = json.loads(result["body"])
    assert body["error"]["code"] == "unauthorized"
    assert fragment in body["error"]["message"]
    assert result["headers"]["www-authenticate"].startswith('Bearer realm="gateway"')


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_valid_hs256(gw) -> None:
    assert call(gw, token())["statusCode"] == 200


def test_missing_and_malformed(gw) -> None:
    missing = call(gw, None)
    assert_401(missing, "missing")
    assert missing["headers"]["www-authenticate"] == 'Bearer realm="gateway"'
    assert_401(gw("GET", "/api/users/me", headers={"authorization": f"Basic {token()}"}), "Bearer")
    assert_401(call(gw, "not.a.jwt"), "malformed")


def test_alg_none_rejected(gw) -> None:
    forged = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64({'sub': 'admin', 'exp': int(time.time()) + 60})}."
    assert_401(call(gw, forged), "not accepted")


def test_expired_and_leeway(gw) -> None:
    assert_401(call(gw, token(exp_in=-120)), "expired")
    assert call(gw, token(exp_in=-10))["statusCode"] == 200  # within the 30 s default leeway


def test_exp_and_sub_required(gw) -> None:
    no_exp = jwt.encode({"sub": "u"}, SECRET, algorithm="HS256")
    assert_401(call(gw, no_exp), "'exp'")
    assert_401(call(gw, token(sub=None)), "'sub'")


def test_tampered_payload(gw) -> None:
    header, _, sig = token(sub="alice").split(".")
    forged = f"{header}.{b64({'sub': 'admin', 'exp': int(time.time()) + 300})}.{sig}"
    assert_401(call(gw, forged), "signature")
    assert_401(call(gw, token(key="another-secret-that-is-also-32-bytes-long")), "signature")


def test_audience_and_issuer(make_gateway) -> None:
    gw = make_gateway(
        GATEWAY_JWT_AUDIENCE="api://gateway", GATEWAY_JWT_ISSUER="https://issuer.example"
    )
    assert call(gw, token(aud="api://gateway", iss="https://issuer.example"))["statusCode"] == 200
    assert_401(call(gw, token(aud="api://other", iss="https://issuer.example")), "audience")
    assert_401(call(gw, token(iss="https://issuer.example")), "'aud'")
    assert_401(call(gw, token(aud="api://gateway", iss="https://evil.example")), "issuer")


def test_rs256_public_key_and_hs_rs_confusion(make_gateway) -> None:
    gw = make_gateway(GATEWAY_JWT_SECRET="", GATEWAY_JWT_PUBLIC_KEY=RSA_PUBLIC_PEM)
    assert call(gw, token(key=RSA_KEY, alg="RS256"))["statusCode"] == 200
    # The confusion attack: HMAC-sign with the public key PEM as the secret.
    header = b64({"alg": "HS256", "typ": "JWT"})
    payload = b64({"sub": "admin", "exp": int(time.time()) + 300})
    import hashlib
    import hmac

    sig = hmac.new(RSA_PUBLIC_PEM.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{payload}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"
    assert_401(call(gw, forged), "not accepted")
    # An EC-signed token is not accepted by an RSA key.
    assert_401(call(gw, token(key=EC_KEY, alg="ES256")), "not accepted")


def test_es256_via_jwks(make_gateway, upstream) -> None:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key()))
    upstream.jwks = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "ES256"}]}
    gw = make_gateway(GATEWAY_JWT_SECRET="", GATEWAY_JWKS_URL=f"{upstream.url}/jwks.json")
    good = jwt.encode(
        {"sub": "u1", "exp": int(time.time()) + 60},
        EC_KEY,
        algorithm="ES256",
        headers={"kid": "k1"},
    )
    assert call(gw, good)["statusCode"] == 200
    other = ec.generate_private_key(ec.SECP256R1())
    bad = jwt.encode(
        {"sub": "u1", "exp": int(time.time()) + 60}, other, algorithm="ES256", headers={"kid": "k1"}
    )
    assert_401(call(gw, bad), "signature")
    unknown = jwt.encode(
        {"sub": "u1", "exp": int(time.time()) + 60},
        EC_KEY,
        algorithm="ES256",
        headers={"kid": "zz"},
    )
    assert_401(call(gw, unknown), "not accepted")
    assert_401(call(gw, token()), "not accepted")  # HS256 with no secret configured


def test_secret_from_secrets_manager_fetched_once(tables, upstream) -> None:
    from tests.gateway.conftest import Gateway
    from tests.gateway.support import gateway_env

    sm = boto3.client("secretsmanager", endpoint_url=tables, region_name="us-east-1")
    arn = sm.create_secret(Name="gw/jwt", SecretString=SECRET)["ARN"]
    gw = Gateway(
        gateway_env(tables, upstream.url, GATEWAY_JWT_SECRET="", GATEWAY_JWT_SECRET_ARN=arn)
    )
    assert call(gw, token())["statusCode"] == 200
    assert call(gw, token(sub="u2"))["statusCode"] == 200
    assert gw.runtime.auth.secrets.calls == 1


def test_secret_arn_unreachable_is_503(tables, upstream) -> None:
    from tests.gateway.conftest import Gateway
    from tests.gateway.support import gateway_env

    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gw/missing-AbCdEf"
    gw = Gateway(
        gateway_env(tables, upstream.url, GATEWAY_JWT_SECRET="", GATEWAY_JWT_SECRET_ARN=arn)
    )
    result = call(gw, token())
    assert result["statusCode"] == 503
    assert json.loads(result["body"])["error"]["code"] == "auth_unavailable"


@pytest.mark.parametrize("alg", ["HS384", "HS512", "RS256", "PS256", "EdDSA"])
def test_other_algorithms_rejected_with_hs_key(gw, alg: str) -> None:
    header = b64({"alg": alg, "typ": "JWT"})
    forged = f"{header}.{b64({'sub': 'x', 'exp': int(time.time()) + 60})}.c2ln"
    assert_401(call(gw, forged), "not accepted")


def test_cached_token_still_expires(make_gateway) -> None:
    gw = make_gateway(GATEWAY_JWT_LEEWAY="0")
    tok = token(exp_in=3)  # room for two calls on a loaded machine
    exp = jwt.decode(tok, options={"verify_signature": False})["exp"]
    assert call(gw, tok)["statusCode"] == 200
    assert call(gw, tok)["statusCode"] == 200  # served from the verified-token cache
    time.sleep(max(exp - time.time(), 0) + 0.1)
    assert_401(call(gw, tok), "expired")
