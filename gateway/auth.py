"""Authentication: Bearer JWT (PyJWT) or Bearer opaque session token.

Algorithms are tied to the key type: an HMAC secret verifies HS256 only; a PEM public key or
a JWKS key verifies only the RS*/ES* algorithms of its own type and curve. ``none`` is never
accepted, ``exp`` and ``sub`` are required, leeway is capped at 60 s, and ``aud``/``iss`` are
checked when configured. A Secrets Manager secret is fetched once per cold start.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gateway.aws import AwsCallError, AwsJsonClient, AwsUnavailable
from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.http_client import HttpClient, HttpError
from gateway.sessions import TOKEN_PREFIX, SessionStore

_RSA_ALGS = ("RS256", "RS384", "RS512")
_EC_ALGS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_JWKS_TTL = 300.0
_JWKS_MIN_REFRESH = 30.0
_CACHE_SIZE = 2048


jwt: Any = None  # PyJWT, imported by _load_jwt when the first Authenticator is built


def _load_jwt(asymmetric: bool) -> Any:
    """Import PyJWT. With only an HMAC key configured, hide its optional ``cryptography``
    backend while it loads: HS256 needs only hmac/hashlib, and the backend costs 40-150 ms of
    cold start. With a public key or JWKS configured, import it normally (RS*/ES* need it)."""
    global jwt
    if jwt is None:
        hide = not asymmetric and "cryptography" not in sys.modules and "jwt" not in sys.modules
        if hide:
            sys.modules["cryptography"] = None  # type: ignore[assignment]
        try:
            import jwt as pyjwt
        finally:
            if hide and sys.modules.get("cryptography", 0) is None:
                del sys.modules["cryptography"]
        jwt = pyjwt
    return jwt


@dataclass(slots=True)
class Principal:
    user_id: str
    kind: str  # "jwt" | "session"
    session_id: str | None = None
    exp: int | None = None
    claims: dict[str, Any] = field(default_factory=dict)


def unauthorized(description: str, error: str | None = "invalid_token") -> GatewayError:
    challenge = 'Bearer realm="gateway"'
    if error:
        challenge += f', error="{error}", error_description="{description}"'
    return GatewayError(401, "unauthorized", description, {"WWW-Authenticate": challenge})


def _algs_for_key(key: Any) -> tuple[str, ...]:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, rsa.RSAPublicKey):
        return _RSA_ALGS
    if isinstance(key, ec.EllipticCurvePublicKey):
        alg = _EC_ALGS.get(key.curve.name)
        return (alg,) if alg else ()
    return ()


class Authenticator:
    def __init__(
        self,
        settings: Settings,
        http: HttpClient,
        sessions: SessionStore,
        secrets: AwsJsonClient | None,
    ) -> None:
        _load_jwt(asymmetric=bool(settings.jwt_public_key or settings.jwks_url))
        self.s = settings
        self.http = http
        self.sessions = sessions
        self.secrets = secrets
        self.leeway = min(settings.jwt_leeway, 60)
        self._hs_key: str | None = settings.jwt_secret
        self._pem_key: tuple[Any, tuple[str, ...]] | None = None
        self._jwks: dict[str, tuple[Any, tuple[str, ...]]] = {}
        self._jwks_fetched = 0.0
        # token -> Principal for tokens that passed full verification; ``exp`` is rechecked on
        # every hit, so a cached token stops working exactly when an uncached one would.
        self._verified: dict[str, Principal] = {}
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    # -- keys -------------------------------------------------------------------------
    async def hs_key(self) -> str | None:
        if self._hs_key is None and self.s.jwt_secret_arn and self.secrets is not None:
            loop = asyncio.get_running_loop()
            if self._lock is None or self._lock[0] is not loop:
                self._lock = (loop, asyncio.Lock())
            async with self._lock[1]:
                if self._hs_key is None:
                    self._hs_key = await self._fetch_secret(self.s.jwt_secret_arn)
        return self._hs_key

    async def _fetch_secret(self, arn: str) -> str:
        try:
            data = await self.secrets.call("GetSecretValue", {"SecretId": arn})  # type: ignore[union-attr]
        except (AwsCallError, AwsUnavailable) as exc:
            raise GatewayError(
                503, "auth_unavailable", f"could not read the JWT secret: {exc}"
            ) from None
        value = data.get("SecretString") or ""
        if value.startswith("{"):
            try:
                obj = json.loads(value)
                value = obj.get("secret") or obj.get("jwt_secret") or value
            except ValueError:
                pass
        if not value:
            raise GatewayError(503, "auth_unavailable", "the JWT secret is empty")
        return value

    def _pem(self) -> tuple[Any, tuple[str, ...]] | None:
        if self._pem_key is None and self.s.jwt_public_key:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            key = load_pem_public_key(self.s.jwt_public_key.encode())
            self._pem_key = (key, _algs_for_key(key))
        return self._pem_key

    async def _jwks_key(self, kid: str | None) -> tuple[Any, tuple[str, ...]] | None:
        if not self.s.jwks_url:
            return None
        now = time.monotonic()
        stale = now - self._jwks_fetched > _JWKS_TTL
        unknown = kid not in self._jwks and now - self._jwks_fetched > _JWKS_MIN_REFRESH
        if stale or unknown:
            await self._refresh_jwks()
        if kid is None and len(self._jwks) == 1:
            return next(iter(self._jwks.values()))
        return self._jwks.get(kid) if kid is not None else None

    async def _refresh_jwks(self) -> None:
        url = urlsplit(self.s.jwks_url)
        port = url.port or (443 if url.scheme == "https" else 80)
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        try:
            resp = await self.http.request(
                "GET",
                url.scheme,
                url.hostname or "",
                port,
                target,
                [("accept", "application/json")],
                timeout=3.0,
            )
            if resp.status != 200:
                raise HttpError(f"HTTP {resp.status}")
            keyset = jwt.PyJWKSet.from_dict(json.loads(resp.body))
        except (HttpError, ValueError, jwt.PyJWTError) as exc:
            if not self._jwks:
                raise GatewayError(
                    503, "auth_unavailable", f"could not load the JWKS: {exc}"
                ) from None
            return  # keep serving with the keys we have
        keys = {}
        for jwk in keyset.keys:
            algs = _algs_for_key(jwk.key)
            declared = jwk._jwk_data.get("alg")
            if declared:
                algs = tuple(a for a in algs if a == declared)
            if jwk.key_id and algs:
                keys[jwk.key_id] = (jwk.key, algs)
        self._jwks = keys
        self._jwks_fetched = time.monotonic()

    # -- verification -----------------------------------------------------------------
    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise unauthorized("missing bearer token", error=None)
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("expected 'Authorization: Bearer <token>'", error="invalid_request")
        if token.startswith(TOKEN_PREFIX):
            return await self._session(token)
        return await self.verify_jwt(token)

    async def _session(self, token: str) -> Principal:
        try:
            session = await self.sessions.lookup(token)
        except (AwsCallError, AwsUnavailable) as exc:
            raise GatewayError(
                503, "auth_unavailable", f"session store unavailable: {exc}"
            ) from None
        if session is None:
            raise unauthorized("session unknown, revoked or expired")
        return Principal(
            session.user_id, "session", session_id=session.session_id, exp=session.expires_at
        )

    async def verify_jwt(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None:
            if cached.exp is not None and cached.exp + self.leeway > time.time():
                return cached
            del self._verified[token]
            raise unauthorized("token expired")
        principal = await self._verify_jwt(token)
        if len(self._verified) >= _CACHE_SIZE:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = principal
        return principal

    async def _verify_jwt(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise unauthorized("malformed token") from None
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise unauthorized("token has no algorithm")
        if alg == "HS256":
            key: Any = await self.hs_key()
            allowed: tuple[str, ...] = ("HS256",) if key else ()
        elif alg in _RSA_ALGS or alg in _EC_ALGS.values():
            pair = self._pem() or await self._jwks_key(header.get("kid"))
            key, allowed = pair if pair else (None, ())
        else:
            allowed = ()
        if alg not in allowed:
            raise unauthorized(f"algorithm {alg[:16]!r} is not accepted")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.s.jwt_audience,
                issuer=self.s.jwt_issuer,
                leeway=self.leeway,
                options={"require": ["exp", "sub"], "verify_aud": self.s.jwt_audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("token expired") from None
        except jwt.InvalidAudienceError:
            raise unauthorized("token audience not accepted") from None
        except jwt.InvalidIssuerError:
            raise unauthorized("token issuer not accepted") from None
        except jwt.MissingRequiredClaimError as exc:
            raise unauthorized(f"token lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise unauthorized("token signature or format invalid") from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 256:
            raise unauthorized("token subject invalid")
        return Principal(sub, "jwt", exp=int(claims["exp"]), claims=claims)
