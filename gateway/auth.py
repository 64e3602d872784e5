"""Authentication: Bearer JWT (PyJWT) or Bearer opaque session token.

Algorithms are tied to the key type: an HMAC secret verifies HS256 only; a PEM public key or
a JWKS key verifies only the RS*/ES* algorithms of its own type and curve. ``none`` is never
accepted, ``exp`` and ``sub`` are required, leeway is capped at 60 s, ``aud``/``iss`` are
checked when configured, and a token may not live longer than ``GATEWAY_JWT_MAX_LIFETIME``
(``exp - iat``, or ``exp - now`` without ``iat``).

Keys change, and the gateway follows:

- the JWKS is fetched by one request at a time (single flight); it is refreshed in the
  background after 5 minutes and at once for an unknown ``kid`` (at most every 30 s); a failed
  fetch is not retried before a backoff (1 s doubling to 60 s), so a hanging JWKS costs one
  request its timeout, not every request;
- a verified token is cached with the key that verified it: when that key leaves the JWKS (or
  the secret changes) the token is verified again, so it stops working with its key;
- a Secrets Manager secret is read on first use and every hour, and again (at most once a
  minute) when a signature fails with the cached one, so a rotation is picked up.

Client answers say what failed in generic words; AWS and JWKS error text goes to the log only.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gateway.aws import AwsCallError, AwsJsonClient, AwsUnavailable, remaining_time
from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.http_client import HttpClient, HttpError
from gateway.refresh import Backoff, SingleFlight
from gateway.sessions import TOKEN_PREFIX, SessionStore

_RSA_ALGS = ("RS256", "RS384", "RS512")
_EC_ALGS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_JWKS_TTL = 300.0
_JWKS_MIN_REFRESH = 30.0
_JWKS_TIMEOUT = 3.0
_SECRET_MAX_AGE = 3600.0
_SECRET_REREAD = 60.0
_CACHE_SIZE = 2048
# RFC 6750 section 3: error_description is %x20-21 / %x23-5B / %x5D-7E
_DESCRIPTION_CHARS = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}


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
        safe = "".join(c if c in _DESCRIPTION_CHARS else "?" for c in description)
        challenge += f', error="{error}", error_description="{safe}"'
    return GatewayError(401, "unauthorized", description, {"WWW-Authenticate": challenge})


def auth_unavailable(detail: str) -> GatewayError:
    return GatewayError(
        503,
        "auth_unavailable",
        "authentication is temporarily unavailable; try again",
        {"Retry-After": "1"},
        detail=detail,
    )


def _encodable(text: str) -> bool:
    """Valid Unicode (JSON lets a token carry lone surrogates, which DynamoDB would refuse
    as a key: a ValidationException must not become the limiter's failure mode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _algs_for_key(key: Any) -> tuple[str, ...]:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if isinstance(key, rsa.RSAPublicKey):
        return _RSA_ALGS
    if isinstance(key, ec.EllipticCurvePublicKey):
        alg = _EC_ALGS.get(key.curve.name)
        return (alg,) if alg else ()
    return ()


Key = tuple[Any, tuple[str, ...]]  # (key object, the algorithms it may verify)


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
        self.max_lifetime = settings.jwt_max_lifetime
        self._hs_key: str | None = settings.jwt_secret
        self._pem_key: Key | None = None
        self._jwks: dict[str, Key] = {}
        self._jwks_source: dict[str, str] = {}  # kid -> the JWK's JSON, to keep unchanged keys
        self._jwks_fetched = 0.0  # monotonic time of the last successful fetch
        self._jwks_tried = 0.0  # ... and of the last attempt
        self._jwks_flight = SingleFlight()
        self._jwks_backoff = Backoff()
        self.jwks_fetches = 0
        self._secret_fetched = 0.0
        self._secret_tried = 0.0
        self._secret_flight = SingleFlight()
        self._secret_backoff = Backoff()
        # token -> (Principal, the key that verified it). ``exp`` is rechecked on every hit and
        # the key must still be the current one, so a cached token stops working exactly when
        # an uncached one would.
        self._verified: dict[str, tuple[Principal, Any]] = {}

    # -- keys -------------------------------------------------------------------------
    async def hs_key(self) -> str | None:
        if not (self.s.jwt_secret_arn and self.secrets is not None):
            return self._hs_key
        if self._hs_key is None:
            if not self._secret_backoff.ready():
                raise auth_unavailable("the JWT secret is unavailable (backing off)")
            await self._secret_flight.run(self._load_secret)
        elif (
            time.monotonic() - self._secret_fetched > _SECRET_MAX_AGE
            and self._secret_backoff.ready()
        ):
            self._secret_flight.start(self._load_secret)
        return self._hs_key

    async def _reread_secret(self) -> bool:
        """After a failed HS256 signature: re-read the secret (at most once a minute).
        True if it changed."""
        if not (self.s.jwt_secret_arn and self.secrets is not None):
            return False
        if time.monotonic() - self._secret_tried < _SECRET_REREAD:
            return False
        before = self._hs_key
        try:
            await self._secret_flight.run(self._load_secret)
        except GatewayError:
            return False
        return self._hs_key != before

    async def _load_secret(self) -> None:
        self._secret_tried = time.monotonic()
        try:
            self._hs_key = await self._fetch_secret(self.s.jwt_secret_arn)  # type: ignore[arg-type]
        except GatewayError:
            self._secret_backoff.failed()
            raise
        self._secret_backoff.succeeded()
        self._secret_fetched = time.monotonic()

    async def _fetch_secret(self, arn: str) -> str:
        try:
            data = await self.secrets.call("GetSecretValue", {"SecretId": arn})  # type: ignore[union-attr]
        except (AwsCallError, AwsUnavailable) as exc:
            raise auth_unavailable(f"could not read the JWT secret: {exc}") from None
        value = data.get("SecretString") or ""
        if value.startswith("{"):
            try:
                obj = json.loads(value)
                value = obj.get("secret") or obj.get("jwt_secret") or value
            except (ValueError, AttributeError):
                pass
        if not isinstance(value, str) or not value:
            raise auth_unavailable("the JWT secret is empty")
        return value

    def _pem(self) -> Key | None:
        if self._pem_key is None and self.s.jwt_public_key:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            key = load_pem_public_key(self.s.jwt_public_key.encode())
            self._pem_key = (key, _algs_for_key(key))
        return self._pem_key

    async def _jwks_key(self, kid: str | None) -> Key | None:
        if not self.s.jwks_url:
            return None
        now = time.monotonic()
        known = kid in self._jwks if kid is not None else len(self._jwks) == 1
        if not self._jwks_fetched or (not known and now - self._jwks_tried > _JWKS_MIN_REFRESH):
            await self._refresh_jwks()
        else:
            self._jwks_maybe_stale()
        if kid is None and len(self._jwks) == 1:
            return next(iter(self._jwks.values()))
        return self._jwks.get(kid) if kid is not None else None

    def _jwks_maybe_stale(self) -> None:
        """Past its TTL the JWKS is refreshed in the background; requests keep the current keys."""
        if (
            self.s.jwks_url
            and self._jwks_fetched
            and time.monotonic() - self._jwks_fetched > _JWKS_TTL
            and self._jwks_backoff.ready()
        ):
            self._jwks_flight.start(self._fetch_jwks)

    async def _refresh_jwks(self) -> None:
        """Fetch now (or join the fetch under way); with keys in hand a failure is tolerated."""
        if not self._jwks_backoff.ready():
            if not self._jwks:
                raise auth_unavailable("the JWKS could not be loaded (backing off after a failure)")
            return
        try:
            await self._jwks_flight.run(self._fetch_jwks)
        except GatewayError:
            if not self._jwks:
                raise

    async def _fetch_jwks(self) -> None:
        self._jwks_tried = time.monotonic()
        self.jwks_fetches += 1
        url = urlsplit(self.s.jwks_url or "")
        port = url.port or (443 if url.scheme == "https" else 80)
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        timeout = max(min(_JWKS_TIMEOUT, remaining_time(_JWKS_TIMEOUT)), 0.001)
        try:
            resp = await self.http.request(
                "GET",
                url.scheme,
                url.hostname or "",
                port,
                target,
                [("accept", "application/json")],
                connect_timeout=timeout,
                timeout=timeout,
            )
            if resp.status != 200:
                raise HttpError(f"HTTP {resp.status}")
            keyset = jwt.PyJWKSet.from_dict(json.loads(resp.body))
        except (HttpError, ValueError, TypeError, AttributeError, jwt.PyJWTError) as exc:
            self._jwks_backoff.failed()
            raise auth_unavailable(
                f"could not load the JWKS: {type(exc).__name__}: {exc}"
            ) from None
        keys: dict[str, Key] = {}
        sources: dict[str, str] = {}
        for jwk in keyset.keys:
            algs = _algs_for_key(jwk.key)
            declared = jwk._jwk_data.get("alg")
            if declared:
                algs = tuple(a for a in algs if a == declared)
            if not (isinstance(jwk.key_id, str) and jwk.key_id and algs):
                continue
            source = json.dumps(jwk._jwk_data, sort_keys=True)
            old = self._jwks.get(jwk.key_id)
            # an unchanged key keeps its identity, so tokens it verified stay cached
            keys[jwk.key_id] = (
                old if old and self._jwks_source.get(jwk.key_id) == source else (jwk.key, algs)
            )
            sources[jwk.key_id] = source
        self._jwks, self._jwks_source = keys, sources
        self._jwks_fetched = time.monotonic()
        self._jwks_backoff.succeeded()

    def _key_current(self, key: Any) -> bool:
        """Is the key that verified a cached token still one the gateway would use?"""
        if isinstance(key, str):
            return key == self._hs_key
        return key is self._pem_key or any(key is k for k in self._jwks.values())

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
            raise auth_unavailable(f"session store unavailable: {exc}") from None
        if session is None:
            raise unauthorized("session unknown, revoked or expired")
        return Principal(
            session.user_id, "session", session_id=session.session_id, exp=session.expires_at
        )

    async def verify_jwt(self, token: str) -> Principal:
        cached = self._verified.get(token)
        if cached is not None:
            principal, key = cached
            if self._key_current(key):
                if principal.exp is not None and principal.exp + self.leeway > time.time():
                    self._jwks_maybe_stale()
                    if isinstance(key, str):
                        await self.hs_key()  # the hourly re-read, in the background
                    return principal
                del self._verified[token]
                raise unauthorized("token expired")
            del self._verified[token]  # its key was rotated out: verify against today's keys
        principal, key = await self._verify_jwt(token)
        if len(self._verified) >= _CACHE_SIZE:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (principal, key)
        return principal

    async def _verify_jwt(self, token: str) -> tuple[Principal, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise unauthorized("malformed token") from None
        alg = header.get("alg")
        kid = header.get("kid")
        if not isinstance(alg, str):
            raise unauthorized("token has no algorithm")
        if kid is not None and not isinstance(kid, str):
            raise unauthorized("malformed token (kid)")
        pair: Key | None = None
        if alg == "HS256":
            secret = await self.hs_key()
            pair = (secret, ("HS256",)) if secret else None
        elif alg in _RSA_ALGS or alg in _EC_ALGS.values():
            pair = self._pem() or await self._jwks_key(kid)
        if pair is None or alg not in pair[1]:
            raise unauthorized("token algorithm is not accepted")
        try:
            claims = self._decode(token, pair[0], alg)
        except jwt.InvalidSignatureError:
            if alg != "HS256" or not await self._reread_secret():
                raise unauthorized("token signature or format invalid") from None
            pair = (self._hs_key, ("HS256",))
            try:
                claims = self._decode(token, pair[0], alg)
            except jwt.InvalidSignatureError:
                raise unauthorized("token signature or format invalid") from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 256 or not _encodable(sub):
            raise unauthorized("token subject invalid")
        exp = int(claims["exp"])
        iat = claims.get("iat")
        lifetime = exp - (int(iat) if isinstance(iat, int | float) else int(time.time()))
        if self.max_lifetime and lifetime > self.max_lifetime + self.leeway:
            raise unauthorized("token lifetime is longer than the gateway accepts")
        key = pair[0] if alg == "HS256" else pair
        return Principal(sub, "jwt", exp=exp, claims=claims), key

    def _decode(self, token: str, key: Any, alg: str) -> dict[str, Any]:
        """PyJWT's decode; every failure but a bad signature becomes its 401 here."""
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.s.jwt_audience,
                issuer=self.s.jwt_issuer,
                leeway=self.leeway,
                options={"require": ["exp", "sub"], "verify_aud": self.s.jwt_audience is not None},
            )
        except jwt.InvalidSignatureError:
            raise
        except jwt.ExpiredSignatureError:
            raise unauthorized("token expired") from None
        except jwt.ImmatureSignatureError:
            raise unauthorized("token not valid yet") from None
        except jwt.InvalidAudienceError:
            raise unauthorized("token audience not accepted") from None
        except jwt.InvalidIssuerError:
            raise unauthorized("token issuer not accepted") from None
        except jwt.MissingRequiredClaimError as exc:
            claim = exc.claim if exc.claim in ("exp", "sub", "aud", "iss") else "required"
            raise unauthorized(f"token lacks the {claim!r} claim") from None
        except jwt.PyJWTError:
            raise unauthorized("token signature or format invalid") from None
