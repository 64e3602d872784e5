"""Settings from environment variables, validated once at start.

A bad value raises ``ConfigError`` naming the variable; the app then answers with JSON errors
(see ``gateway.app``) instead of crashing the Lambda init phase.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.http_client import host_header

UPSTREAM_NAMES = ("users", "products", "orders")
API_GATEWAY_TIMEOUT_S = 30.0


class ConfigError(Exception):
    """A configuration variable is missing or invalid."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


@dataclass(frozen=True)
class Upstream:
    name: str
    prefix: str  # e.g. /api/users
    scheme: str
    host: str
    port: int
    base_path: str  # no trailing slash, "" for root
    connect_timeout: float
    timeout: float

    @property
    def host_header(self) -> str:
        return host_header(self.host, self.port, self.scheme)


@dataclass(frozen=True)
class Settings:
    jwt_secret: str | None = None
    jwt_secret_arn: str | None = None
    jwt_public_key: str | None = None
    jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_leeway: int = 30
    rate_limit_table: str = ""
    sessions_table: str = ""
    rate_limit: int = 100
    rate_window: int = 60
    rate_limit_fail_open: bool = True
    upstreams: tuple[Upstream, ...] = ()
    cors_origins: tuple[str, ...] = ()
    tracing: bool = True
    log_level: str = "INFO"
    service: str = "gateway"
    max_body_bytes: int = 1_048_576
    retries: int = 2
    breaker_threshold: int = 5
    breaker_cooldown: float = 10.0
    forward_authorization: bool = False
    session_ttl: int = 3600
    ready_cache_seconds: float = 5.0
    aws_timeout: float = 3.0
    aws_connect_timeout: float = 1.0
    aws_max_attempts: int | None = None  # None: botocore's default (DynamoDB 4, others 3)
    jwt_max_lifetime: int = 86_400  # seconds a token may live (exp - iat); 0: no limit
    rate_limit_deny_cache: int = 10_000  # keys known over their limit; 0 turns the cache off
    region: str = "us-east-1"


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"expected an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(name, f"must be between {lo} and {hi}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"expected a number of seconds, got {raw!r}") from None
    if not lo < value <= hi:
        raise ConfigError(name, f"must be greater than {lo} and at most {hi}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower() or default
    if raw not in choices:
        raise ConfigError(name, f"expected one of {', '.join(choices)}, got {raw!r}")
    return raw


def _url(env: Mapping[str, str], name: str) -> tuple[str, str, int, str] | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(name, f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(name, f"expected an http(s)://host[:port][/path] URL, got {raw!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(name, "must not contain a query, fragment or credentials")
    default_port = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname, port or default_port, parts.path.rstrip("/")


def parse_rate_limit(raw: str) -> tuple[int, int]:
    """``"100/60"`` -> (100, 60). Raises ValueError with a readable message."""
    count, sep, window = raw.strip().partition("/")
    if not sep:
        raise ValueError(f"expected REQUESTS/SECONDS such as 100/60, got {raw!r}")
    try:
        limit, seconds = int(count), int(window)
    except ValueError:
        raise ValueError(f"expected REQUESTS/SECONDS such as 100/60, got {raw!r}") from None
    if limit < 1 or seconds < 1 or seconds > 86_400:
        raise ValueError(f"requests must be >= 1 and seconds 1..86400, got {raw!r}")
    return limit, seconds


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every GATEWAY_* variable. Raises ConfigError naming the first bad one."""
    env = os.environ if env is None else env
    secret = env.get("GATEWAY_JWT_SECRET") or None
    secret_arn = env.get("GATEWAY_JWT_SECRET_ARN", "").strip() or None
    public_key = env.get("GATEWAY_JWT_PUBLIC_KEY", "").strip() or None
    jwks = _url(env, "GATEWAY_JWKS_URL")
    if secret and secret_arn:
        raise ConfigError(
            "GATEWAY_JWT_SECRET",
            "set either GATEWAY_JWT_SECRET or GATEWAY_JWT_SECRET_ARN, not both",
        )
    if secret is not None and len(secret.encode()) < 32:
        raise ConfigError(
            "GATEWAY_JWT_SECRET", "an HS256 key must be at least 32 bytes (RFC 7518 3.2)"
        )
    if secret_arn and not (secret_arn.startswith("arn:") and ":secretsmanager:" in secret_arn):
        raise ConfigError(
            "GATEWAY_JWT_SECRET_ARN", f"expected a Secrets Manager ARN, got {secret_arn!r}"
        )
    if public_key and "-----BEGIN PUBLIC KEY-----" not in public_key:
        raise ConfigError(
            "GATEWAY_JWT_PUBLIC_KEY", "expected a PEM public key (-----BEGIN PUBLIC KEY-----)"
        )
    if not (secret or secret_arn or public_key or jwks):
        raise ConfigError(
            "GATEWAY_JWT_SECRET",
            "no JWT key configured: set GATEWAY_JWT_SECRET, GATEWAY_JWT_SECRET_ARN, GATEWAY_JWT_PUBLIC_KEY or GATEWAY_JWKS_URL",
        )
    tables = {}
    for name in ("GATEWAY_RATE_LIMIT_TABLE", "GATEWAY_SESSIONS_TABLE"):
        value = env.get(name, "").strip()
        if not value:
            raise ConfigError(name, "required: the DynamoDB table name")
        if not (3 <= len(value) <= 255) or not all(c.isalnum() or c in "_-." for c in value):
            raise ConfigError(name, f"not a valid DynamoDB table name: {value!r}")
        tables[name] = value
    try:
        limit, window = parse_rate_limit(env.get("GATEWAY_RATE_LIMIT", "") or "100/60")
    except ValueError as exc:
        raise ConfigError("GATEWAY_RATE_LIMIT", str(exc)) from None
    connect_default = _float(env, "GATEWAY_UPSTREAM_CONNECT_TIMEOUT", 2.0, 0, 10)
    total_default = _float(env, "GATEWAY_UPSTREAM_TIMEOUT", 10.0, 0, API_GATEWAY_TIMEOUT_S - 1)
    upstreams = []
    for name in UPSTREAM_NAMES:
        var = f"GATEWAY_UPSTREAM_{name.upper()}"
        parsed = _url(env, var)
        if parsed is None:
            continue
        scheme, host, port, base = parsed
        upstreams.append(
            Upstream(
                name=name,
                prefix=f"/api/{name}",
                scheme=scheme,
                host=host,
                port=port,
                base_path=base,
                connect_timeout=_float(env, f"{var}_CONNECT_TIMEOUT", connect_default, 0, 10),
                timeout=_float(env, f"{var}_TIMEOUT", total_default, 0, API_GATEWAY_TIMEOUT_S - 1),
            )
        )
    origins = tuple(o.strip() for o in env.get("GATEWAY_CORS_ORIGINS", "").split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ConfigError(
                "GATEWAY_CORS_ORIGINS",
                f"expected comma-separated origins like https://app.example.com, got {origin!r}",
            )
    log_level = _choice(env, "GATEWAY_LOG_LEVEL", "info", ("debug", "info", "warning", "error"))
    return Settings(
        jwt_secret=secret,
        jwt_secret_arn=secret_arn,
        jwt_public_key=public_key,
        jwks_url=env.get("GATEWAY_JWKS_URL", "").strip() or None,
        jwt_audience=env.get("GATEWAY_JWT_AUDIENCE", "").strip() or None,
        jwt_issuer=env.get("GATEWAY_JWT_ISSUER", "").strip() or None,
        jwt_leeway=_int(env, "GATEWAY_JWT_LEEWAY", 30, 0, 60),
        rate_limit_table=tables["GATEWAY_RATE_LIMIT_TABLE"],
        sessions_table=tables["GATEWAY_SESSIONS_TABLE"],
        rate_limit=limit,
        rate_window=window,
        rate_limit_fail_open=_choice(
            env, "GATEWAY_RATE_LIMIT_FAILURE_MODE", "open", ("open", "closed")
        )
        == "open",
        upstreams=tuple(upstreams),
        cors_origins=origins,
        tracing=_choice(env, "GATEWAY_TRACING", "on", ("on", "off")) == "on",
        log_level=log_level.upper(),
        service=env.get("POWERTOOLS_SERVICE_NAME", "").strip() or "gateway",
        max_body_bytes=_int(env, "GATEWAY_MAX_BODY_BYTES", 1_048_576, 1, 6_291_456),
        retries=_int(env, "GATEWAY_UPSTREAM_RETRIES", 2, 0, 5),
        breaker_threshold=_int(env, "GATEWAY_BREAKER_THRESHOLD", 5, 1, 1000),
        breaker_cooldown=_float(env, "GATEWAY_BREAKER_COOLDOWN", 10.0, 0, 600),
        forward_authorization=_choice(env, "GATEWAY_FORWARD_AUTHORIZATION", "off", ("on", "off"))
        == "on",
        session_ttl=_int(env, "GATEWAY_SESSION_TTL", 3600, 60, 30 * 86_400),
        ready_cache_seconds=_float(env, "GATEWAY_READY_CACHE_SECONDS", 5.0, 0, 300),
        aws_timeout=_float(env, "GATEWAY_AWS_TIMEOUT", 3.0, 0, 20),
        aws_connect_timeout=_float(env, "GATEWAY_AWS_CONNECT_TIMEOUT", 1.0, 0, 10),
        aws_max_attempts=_int(env, "GATEWAY_AWS_MAX_ATTEMPTS", 0, 1, 10) or None,
        jwt_max_lifetime=_int(env, "GATEWAY_JWT_MAX_LIFETIME", 86_400, 0, 366 * 86_400),
        rate_limit_deny_cache=_int(env, "GATEWAY_RATE_LIMIT_DENY_CACHE", 10_000, 0, 1_000_000),
        region=(env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1").strip(),
    )
