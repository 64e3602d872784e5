"""The FastAPI app: health, sessions and the authenticated, rate-limited proxy.

``create_app()`` builds everything from environment variables; ``app`` is the module-level
instance uvicorn serves (``uvicorn gateway.app:app``) and Mangum wraps (``gateway.handler``).
A configuration error is logged once and turned into JSON 500/503 answers, never a crash.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Route

from gateway import lambda_payload
from gateway.aws import (
    AwsCallError,
    AwsUnavailable,
    credential_chain,
    dynamodb_client,
    request_deadline,
    secretsmanager_client,
)
from gateway.config import API_GATEWAY_TIMEOUT_S, ConfigError, Settings, load_settings
from gateway.errors import GatewayError, error_body
from gateway.http_client import HttpClient
from gateway.log import GatewayLogger
from gateway.ratelimit import Decision, RateLimiter
from gateway.sessions import TOKEN_PREFIX, RevokeIncomplete
from gateway.tracing import NoopTracer, Tracer, get_tracer

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_JSON = "application/json"
_cold_start = True
PROXY_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@dataclass(slots=True)
class RequestContext:
    request_id: str
    route: str = "unmatched"
    # Set only once the request is forwarded (see docs/access-line.md): a request rejected
    # before any upstream call (401, 413, 429, ...) logs upstream and upstream_status as null.
    upstream: str | None = None
    upstream_latency_ms: float | None = None
    upstream_status: int | None = None
    user_id: str | None = None
    rate_limited: bool = False
    request_bytes: int = 0
    auth: str | None = None  # credential checked: "jwt", "session" (one DynamoDB read) or None
    limiter: str | None = None  # how the rate limit was decided (Decision.source) or None
    error_code: str | None = None  # the code of the JSON error answered, None on success


class Runtime:
    """Everything a request needs, built once per process (no network at build time)."""

    def __init__(
        self, settings: Settings, logger: GatewayLogger, tracer: Tracer, env: Mapping[str, str]
    ) -> None:
        from gateway.auth import Authenticator
        from gateway.proxy import Proxy
        from gateway.sessions import SessionStore

        self.settings = settings
        self.logger = logger
        self.tracer = tracer
        self.http = HttpClient()
        credentials = credential_chain(self.http, env)  # one chain, shared by both clients
        credentials.on_warning = lambda message: logger.warning(message, location="gateway.aws")
        aws: dict[str, Any] = {
            "credentials": credentials,
            "timeout": settings.aws_timeout,
            "connect_timeout": settings.aws_connect_timeout,
            "max_attempts": settings.aws_max_attempts,
        }
        self.ddb = dynamodb_client(self.http, settings.region, env, **aws)
        secrets = None
        if settings.jwt_secret_arn:
            region = settings.jwt_secret_arn.split(":")[3] or settings.region
            secrets = secretsmanager_client(self.http, region, env, **aws)
        self.sessions = SessionStore(self.ddb, settings.sessions_table, settings.session_ttl)
        self.auth = Authenticator(settings, self.http, self.sessions, secrets)
        self.limiter = RateLimiter(
            self.ddb,
            settings.rate_limit_table,
            settings.rate_limit,
            settings.rate_window,
            settings.rate_limit_fail_open,
            deny_cache_size=settings.rate_limit_deny_cache,
        )
        self.proxy = Proxy(settings, self.http)
        self.ready_cache: tuple[float, dict[str, str]] | None = None


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(payload, separators=(",", ":")), status, headers=headers, media_type=_JSON
    )


def _error_response(exc: GatewayError, request_id: str | None) -> Response:
    return Response(
        error_body(exc.code, exc.message, request_id),
        exc.status,
        headers=exc.headers,
        media_type=_JSON,
    )


def _header(scope: Mapping[str, Any], name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _new_request_id() -> str:
    """128 random bits as 32 hex digits (uuid4().hex's shape, without building a UUID)."""
    return os.urandom(16).hex()


def _lambda_fields(scope: Mapping[str, Any]) -> dict[str, Any]:
    ctx = scope.get("aws.context")
    trace = os.environ.get("_X_AMZN_TRACE_ID", "")
    root = trace.split(";", 1)[0].removeprefix("Root=") if trace else None
    if ctx is None:
        return {
            "function_name": os.environ.get("AWS_LAMBDA_FUNCTION_NAME"),
            "function_memory_size": None,
            "function_arn": None,
            "function_request_id": None,
            "xray_trace_id": root,
        }
    return {
        "function_name": getattr(ctx, "function_name", None),
        "function_memory_size": getattr(ctx, "memory_limit_in_mb", None),
        "function_arn": getattr(ctx, "invoked_function_arn", None),
        "function_request_id": getattr(ctx, "aws_request_id", None),
        "xray_trace_id": root,
    }


class AccessLogMiddleware:
    """Pure ASGI: request id, one access line and one trace subsegment per request,
    last-resort JSON 500."""

    def __init__(self, app: Any, logger: GatewayLogger, tracer: Tracer) -> None:
        self.app = app
        self.logger = logger
        self.tracer = tracer

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        global _cold_start
        started = time.perf_counter()
        event = scope.get("aws.event") or {}
        request_id = (event.get("requestContext") or {}).get("requestId")
        if not request_id:
            candidate = _header(scope, b"x-request-id")
            request_id = (
                candidate if candidate and _REQUEST_ID.match(candidate) else _new_request_id()
            )
        ctx = RequestContext(request_id)
        scope["gw"] = ctx
        sent = {"status": 0, "bytes": 0, "started": False}
        rid_header = (b"x-request-id", request_id.encode())

        async def send_wrapper(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                sent["started"] = True
                sent["status"] = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            elif message["type"] == "http.response.body":
                sent["bytes"] += len(message.get("body", b""))
            await send(message)

        with self.tracer.segment("request"), request_deadline(_request_budget(scope)):
            try:
                await self.app(scope, receive, send_wrapper)
            except Exception as exc:  # the last line of defence: JSON, never a traceback
                self.logger.error(
                    "internal",
                    f"unhandled {type(exc).__name__}: {exc}",
                    correlation_id=request_id,
                    route=ctx.route,
                )
                if not sent["started"]:
                    ctx.error_code = "internal"
                    resp = _error_response(
                        GatewayError(500, "internal", "internal error"), request_id
                    )
                    await resp(scope, receive, send_wrapper)
            self.tracer.rename(ctx.route)
            self.tracer.annotate("status", sent["status"])
        client = scope.get("client")
        length = _header(scope, b"content-length")
        fields = {
            "cold_start": _cold_start,
            **_lambda_fields(scope),
            "correlation_id": request_id,
            "method": scope["method"],
            "path": scope["path"],
            "route": ctx.route,
            "status": sent["status"],
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "upstream": ctx.upstream,
            "upstream_latency_ms": ctx.upstream_latency_ms,
            "upstream_status": ctx.upstream_status,
            "user_id": ctx.user_id,
            "client_ip": client[0] if client else None,
            "rate_limited": ctx.rate_limited,
            "request_bytes": ctx.request_bytes or _declared_length(length, event),
            "response_bytes": sent["bytes"],
            "auth": ctx.auth,
            "limiter": ctx.limiter,
            "error_code": ctx.error_code,
        }
        _cold_start = False
        self.logger.access(fields)


def _request_budget(scope: Mapping[str, Any]) -> float:
    """Seconds this request may still take: API Gateway's limit, or less if Lambda says so."""
    budget = API_GATEWAY_TIMEOUT_S
    remaining = getattr(scope.get("aws.context"), "get_remaining_time_in_millis", None)
    if remaining is not None:
        budget = min(budget, remaining() / 1000 - 0.5)  # time to write the answer
    return max(budget, 0.1)


def _declared_length(header: str | None, event: Mapping[str, Any]) -> int:
    """Request size when the body was never read (e.g. a 404): the header, else the event's body."""
    if header and header.isdigit():
        return int(header)
    body = event.get("body")
    if not body:
        return 0
    if event.get("isBase64Encoded"):
        return len(body) * 3 // 4 - body[-2:].count("=")
    return len(body.encode())


def create_app(env: Mapping[str, str] | None = None, stream: Any = None) -> FastAPI:
    environ = os.environ if env is None else env
    logger = GatewayLogger(
        (environ.get("POWERTOOLS_SERVICE_NAME") or "gateway").strip(),
        (environ.get("GATEWAY_LOG_LEVEL") or "INFO").upper(),
        stream,
    )
    runtime: Runtime | None = None
    config_error: ConfigError | None = None
    try:
        settings = load_settings(environ)
        runtime = Runtime(settings, logger, get_tracer(settings.tracing, environ), environ)
    except ConfigError as exc:
        config_error = exc
        logger.error("config_invalid", f"invalid configuration: {exc}", variable=exc.variable)

    app = GatewayApp(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.runtime = runtime

    def rt() -> Runtime:
        if runtime is None:
            raise GatewayError(
                500,
                "config_invalid",
                f"gateway misconfigured: {config_error.variable if config_error else ''}",
            )
        return runtime

    def on_gateway_error(exc: GatewayError, ctx: RequestContext) -> Response:
        ctx.error_code = exc.code
        if exc.status >= 500 and runtime is not None:
            runtime.logger.error(
                exc.code, exc.detail or exc.message, correlation_id=ctx.request_id, route=ctx.route
            )
        return _error_response(exc, ctx.request_id)

    @app.exception_handler(GatewayError)
    async def _gateway_error(request: Request, exc: GatewayError) -> Response:
        return on_gateway_error(exc, request.scope["gw"])

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        err = GatewayError(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))
        request.scope["gw"].error_code = code
        return _error_response(err, request.scope["gw"].request_id)

    # -- health ---------------------------------------------------------------------
    @app.get("/health/live")
    async def live(request: Request) -> Response:
        request.scope["gw"].route = "/health/live"
        return _json(200, {"status": "ok"})

    @app.get("/health/ready")
    async def ready(request: Request) -> Response:
        request.scope["gw"].route = "/health/ready"
        if runtime is None:
            raise GatewayError(
                503,
                "config_invalid",
                f"gateway misconfigured: {config_error.variable if config_error else ''}",
            )
        checks = await _readiness(runtime)
        failed = sorted(name for name, state in checks.items() if state != "ok")
        if failed:
            body = error_body(
                "not_ready",
                f"dependency failed: {', '.join(failed)}",
                request.scope["gw"].request_id,
                checks=checks,
            )
            return Response(body, 503, media_type=_JSON, headers={"Retry-After": "5"})
        return _json(200, {"status": "ready", "checks": checks})

    # -- sessions -------------------------------------------------------------------
    async def signed_in(request: Request, route: str):
        """Route, authenticate and rate-limit a session request: (runtime, principal, decision)."""
        ctx: RequestContext = request.scope["gw"]
        ctx.route = route
        r = rt()
        principal = await _authenticate(r, request.scope, ctx)
        return r, principal, await _rate_limit(r, ctx, f"user:{principal.user_id}")

    @contextmanager
    def session_store(action: str) -> Iterator[None]:
        try:
            yield
        except (AwsCallError, AwsUnavailable) as exc:
            raise GatewayError(
                503,
                "session_store_unavailable",
                f"could not {action}; try again",
                {"Retry-After": "1"},
                detail=f"could not {action}: {exc}",
            ) from None

    @app.post("/auth/sessions")
    async def create_session(request: Request) -> Response:
        r, principal, decision = await signed_in(request, "/auth/sessions")
        if principal.kind != "jwt":
            raise GatewayError(
                400, "jwt_required", "create a session with a JWT, not with another session"
            )
        if principal.exp is not None and principal.exp <= time.time():
            from gateway.auth import unauthorized

            raise unauthorized("token expired")  # inside the leeway: fine for a call, not a session
        with session_store("store the session"):
            token, session = await r.sessions.create(principal.user_id, not_after=principal.exp)
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(session.expires_at))
        payload = {
            "token": token,
            "token_type": "Bearer",
            "expires_at": expires,
            "expires_in": session.expires_at - int(time.time()),
        }
        return _json(201, payload, {**decision.headers(), "Cache-Control": "no-store"})

    @app.delete("/auth/sessions/current")
    async def revoke_current(request: Request) -> Response:
        r, principal, decision = await signed_in(request, "/auth/sessions/current")
        if principal.session_id is None:
            raise GatewayError(
                400, "session_required", "present the session token to revoke as the Bearer token"
            )
        with session_store("revoke the session"):
            await r.sessions.revoke(principal.session_id)
        return Response(status_code=204, headers=decision.headers())

    @app.delete("/auth/sessions")
    async def revoke_all(request: Request) -> Response:
        r, principal, decision = await signed_in(request, "/auth/sessions")
        try:
            with session_store("revoke sessions"):
                count = await r.sessions.revoke_all(principal.user_id)
        except RevokeIncomplete as exc:
            r.logger.error(
                "revoke_incomplete", str(exc), correlation_id=request.scope["gw"].request_id
            )
            body = error_body(
                "revoke_incomplete",
                "not every session could be revoked; repeat the request",
                request.scope["gw"].request_id,
                revoked=exc.revoked,
                remaining=exc.remaining,
            )
            headers = {**decision.headers(), "Retry-After": "1"}
            return Response(body, 503, headers=headers, media_type=_JSON)
        return _json(200, {"revoked": count}, decision.headers())

    # -- proxy (the hot path: a plain ASGI endpoint, no per-request FastAPI machinery) --
    proxy = ProxyEndpoint(rt)
    proxy_route = Route("/api/{rest:path}", endpoint=proxy, methods=list(PROXY_METHODS))
    app.router.routes.append(proxy_route)

    # The same route served without FastAPI's per-request stack (see GatewayApp): the same
    # access-log and CORS middleware around it, the same 405 and GatewayError answers.
    tracer = runtime.tracer if runtime is not None else NoopTracer()
    fast: Any = AccessLogMiddleware(ProxyApp(proxy, proxy_route, on_gateway_error), logger, tracer)
    app.add_middleware(AccessLogMiddleware, logger=logger, tracer=tracer)
    if runtime is not None and runtime.settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        origins = list(runtime.settings.cors_origins)
        cors: dict[str, Any] = {
            "allow_origins": origins,
            "allow_methods": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            "allow_headers": ["authorization", "content-type", "x-request-id"],
            "expose_headers": ["x-request-id", "ratelimit", "ratelimit-policy", "retry-after"],
            "allow_credentials": "*" not in origins,
            "max_age": 600,
        }
        app.add_middleware(CORSMiddleware, **cors)
        fast = CORSMiddleware(fast, **cors)
    app.proxy_fast_path = fast
    return app


class GatewayApp(FastAPI):
    """FastAPI, except that ``/api/*`` (the hot path: every proxied request) goes straight to
    its middleware and endpoint instead of through FastAPI/Starlette's per-request stack
    (server-error, telemetry, body-limit, exception and exit-stack middleware, then a linear
    route match). Everything the gateway relies on is kept: the access line and last-resort
    500 (AccessLogMiddleware), CORS when configured, 405 for other methods and the JSON error
    answers (ProxyApp). Paths under a ``root_path`` take the ordinary route."""

    proxy_fast_path: Any = None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and self.proxy_fast_path is not None
            and scope["path"].startswith("/api/")
            and not scope.get("root_path")
        ):
            await self.proxy_fast_path(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class ProxyApp:
    """The proxy route as a bare ASGI app: what Starlette's Route.handle and the app's
    exception handlers do for it (405 with ``Allow``; GatewayError -> its JSON answer)."""

    def __init__(
        self,
        endpoint: ProxyEndpoint,
        route: Route,
        on_error: Callable[[GatewayError, RequestContext], Response],
    ) -> None:
        self.endpoint = endpoint
        self.methods = route.methods or set()
        self.allow = ", ".join(self.methods)
        self.on_error = on_error

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        try:
            if scope["method"] not in self.methods:
                raise GatewayError(
                    405, "method_not_allowed", "Method Not Allowed", {"Allow": self.allow}
                )
            await self.endpoint(scope, receive, send)
        except GatewayError as exc:
            response = self.on_error(exc, scope["gw"])
            await response(scope, receive, send)


def _check_declared_length(scope: Mapping[str, Any], limit: int) -> None:
    """413 from the Content-Length header alone, before anything is read."""
    length = _header(scope, b"content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise GatewayError(413, "payload_too_large", f"request body over {limit} bytes")


async def _read_body(
    scope: Mapping[str, Any], receive: Any, limit: int, ctx: RequestContext
) -> bytes:
    _check_declared_length(scope, limit)
    chunks = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise GatewayError(400, "client_disconnected", "the client went away mid-request")
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise GatewayError(413, "payload_too_large", f"request body over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    ctx.request_bytes = total
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class ProxyEndpoint:
    """``/api/{users|products|orders}/...``: path check, auth, rate limit, body, forward.

    The body is read only after authentication and the rate limit: an unauthenticated client
    gets its 401 without ``100 Continue`` and without the gateway reading what it sends."""

    def __init__(self, runtime: Callable[[], Runtime]) -> None:
        from gateway import proxy

        self.runtime = runtime
        self.proxy = proxy

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        p, r = self.proxy, self.runtime()
        ctx: RequestContext = scope["gw"]
        match = p.find_upstream(r.settings.upstreams, scope["path"])
        if match is None:
            raise GatewayError(404, "not_found", "no upstream serves this path")
        up, _ = match
        ctx.route = up.prefix
        raw = scope.get("raw_path")
        raw_path = raw.decode("latin-1") if raw else _quoted(scope["path"])
        p.check_path(scope["path"], raw_path)
        target = p.raw_suffix(up, raw_path)
        query = scope["query_string"].decode("latin-1")
        if query:
            target += "?" + p.target_query(query)
        _check_declared_length(scope, r.settings.max_body_bytes)
        principal = await _authenticate(r, scope, ctx)
        decision = await _rate_limit(r, ctx, f"user:{principal.user_id}")
        client = scope.get("client")
        out_headers = p.request_headers(
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            ctx.request_id,
            principal.user_id,
            client[0] if client else None,
            r.settings.forward_authorization,
        )
        body = await _read_body(scope, receive, r.settings.max_body_bytes, ctx)
        on_lambda = "aws.event" in scope
        ctx.upstream = up.name  # from here on an upstream is called (or its open breaker answers)
        try:
            with r.tracer.segment(f"upstream.{up.name}"):
                result = await r.proxy.forward(
                    up, scope["method"], target, out_headers, body, lambda_payload.LIMIT
                )
            upstream = result.response
            ctx.upstream_latency_ms = round(result.upstream_ms, 2)
            ctx.upstream_status = upstream.status
            r.tracer.annotate("upstream_status", upstream.status)
            headers, invalid = p.response_headers(
                upstream.headers,
                utf8_only=on_lambda,
                server_sets=frozenset() if on_lambda else p.SERVER_SET,
            )
            if invalid:
                r.logger.warning(
                    "upstream header dropped: not a valid field value",
                    headers=invalid,
                    correlation_id=ctx.request_id,
                    upstream=up.name,
                )
            headers.extend((k.lower().encode(), v.encode()) for k, v in decision.headers().items())
            if scope["method"] == "HEAD":
                length = upstream.header("content-length")
                if length is not None and length.isdigit():
                    headers.append((b"content-length", length.encode()))
            elif upstream.status not in (204, 304):
                headers.append((b"content-length", str(len(upstream.body)).encode()))
            if on_lambda and not lambda_payload.fits(headers, upstream.body):
                raise GatewayError(
                    502,
                    "upstream_response_too_large",
                    "the upstream response is too large to return",
                    detail=f"upstream {up.name}: the Lambda response would exceed "
                    f"{lambda_payload.LIMIT} bytes ({len(upstream.body)} body bytes)",
                )
        except GatewayError as exc:
            exc.headers = {**decision.headers(), **exc.headers}
            raise
        await send({"type": "http.response.start", "status": upstream.status, "headers": headers})
        await send({"type": "http.response.body", "body": upstream.body})


def _quoted(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


async def _authenticate(r: Runtime, scope: Mapping[str, Any], ctx: RequestContext):
    """Authenticate; a failed attempt counts against the client IP's limit (anonymous key)."""
    header = _header(scope, b"authorization")
    ctx.auth = _credential_kind(header)
    try:
        principal = await r.auth.authenticate(header)
    except GatewayError as exc:
        if exc.status == 401:
            client = scope.get("client")
            decision = await _rate_limit(r, ctx, f"ip:{client[0] if client else 'unknown'}")
            exc.headers = {**decision.headers(), **exc.headers}
        raise
    ctx.user_id = principal.user_id
    return principal


def _credential_kind(header: str | None) -> str | None:
    """The bearer credential presented (and checked): "session" (opaque token), "jwt", or None."""
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return "session" if token.startswith(TOKEN_PREFIX) else "jwt"


async def _rate_limit(r: Runtime, ctx: RequestContext, key: str) -> Decision:
    with r.tracer.segment("dynamodb.UpdateItem"):
        decision, failure = await r.limiter.hit(key)
    ctx.limiter = decision.source
    if decision.source == "throttled":
        r.logger.warning(
            "rate limiter throttled by DynamoDB: request denied",
            location="gateway.ratelimit",
            correlation_id=ctx.request_id,
        )
    if failure is not None:
        mode = "open" if r.settings.rate_limit_fail_open else "closed"
        r.logger.error(
            "rate_limit_unavailable",
            f"rate limiter failed, failing {mode}: {failure}",
            correlation_id=ctx.request_id,
        )
        if not decision.allowed and decision.degraded:
            raise GatewayError(
                503,
                "rate_limit_unavailable",
                "rate limiting is unavailable; try again",
                {"Retry-After": "1"},
            )
        return decision
    if not decision.allowed:
        ctx.rate_limited = True
        raise GatewayError(
            429,
            "rate_limited",
            f"rate limit of {decision.limit} requests per {decision.window}s exceeded",
            decision.headers(),
        )
    return decision


async def _readiness(r: Runtime) -> dict[str, str]:
    now = time.monotonic()
    if r.ready_cache and now - r.ready_cache[0] < r.settings.ready_cache_seconds:
        return r.ready_cache[1]
    import asyncio

    async def table(name: str) -> str:
        try:
            result = await r.ddb.call("DescribeTable", {"TableName": name})
        except AwsCallError as exc:
            return exc.code
        except AwsUnavailable:
            return "unreachable"
        status = result.get("Table", {}).get("TableStatus")
        return "ok" if status in ("ACTIVE", "UPDATING") else f"status {status}"

    names = ["rate_limit_table", "sessions_table"]
    results = await asyncio.gather(
        table(r.settings.rate_limit_table), table(r.settings.sessions_table)
    )
    checks = dict(zip(names, results, strict=True))
    if r.settings.jwt_secret_arn:
        try:
            await r.auth.hs_key()
            checks["jwt_secret"] = "ok"
        except GatewayError:
            checks["jwt_secret"] = "unreachable"
    r.ready_cache = (now, checks)
    return checks


_app: FastAPI | None = None


def __getattr__(name: str) -> Any:
    """``gateway.app:app`` is built on first access, from the process environment."""
    global _app
    if name == "app":
        if _app is None:
            _app = create_app()
        return _app
    raise AttributeError(name)
