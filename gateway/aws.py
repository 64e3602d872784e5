"""Async clients for the AWS JSON APIs the gateway calls (DynamoDB, Secrets Manager).

They share the process's ``HttpClient`` and sign with ``sigv4.Signer``. They behave like
botocore's *standard* retry mode (botocore/retries/standard.py, the installed botocore is the
oracle in tests/gateway/test_aws_retries.py):

- retried: botocore's throttling codes, its transient codes, HTTP 500/502/503/504, an unmodelled
  429, errors the service model marks retryable, connection errors and timeouts, and a DynamoDB
  body whose ``x-amz-crc32`` does not match;
- delay: full jitter, ``rand() * min(scale * 2**(attempt-1), 20)`` with ``scale`` 1 s for
  throttling and 25 ms (DynamoDB) / 50 ms otherwise, raised to ``x-amz-retry-after`` (ms) capped
  at ``t + 5`` s; at most 4 attempts for DynamoDB and 3 otherwise (``GATEWAY_AWS_MAX_ATTEMPTS``);
- a retry quota per client (500 tokens; a retry costs 14, a throttling retry 5; a success gives
  back 1, or what its last retry took) so an outage does not multiply the traffic;
- and, unlike botocore, every attempt and every sleep is bounded by the request's remaining time
  (``request_deadline``): a retry that could not finish in time is not started; and a body that
  fails its checksum on the last attempt is an error (botocore returns it as a success).

Two corrections botocore does not make but the other AWS SDKs do: a signature rejected for clock
skew (``InvalidSignatureException`` "Signature expired", ``RequestTimeTooSkewed`` ...) sets the
client's clock offset from the response's ``Date`` and is retried; a token the service calls
expired makes refreshable credentials refresh at once, and the call is retried once.

Credentials (``credential_chain``): the standard environment variables (what Lambda sets), else
the container provider (``AWS_CONTAINER_CREDENTIALS_FULL_URI`` / ``_RELATIVE_URI`` with
``AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]``: ECS, EKS Pod Identity, Lambda SnapStart), else
botocore's own chain (imported once, off the event loop). Expiring credentials are refreshed like
botocore's ``RefreshableCredentials``: from 15 minutes before expiry one caller refreshes while
the others keep signing with the current set (a failure there is logged and tolerated); from 10
minutes before expiry every caller waits for the one refresh, and its failure is an error.

Endpoints follow the SDK convention: AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL, then the
regional AWS endpoint. Error *text* from AWS (it can name roles, accounts, tables) stays in the
exceptions for the log; client answers carry only codes (see ``gateway.errors``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

from gateway.http_client import HttpClient, HttpError
from gateway.refresh import SingleFlight
from gateway.sigv4 import Credentials, Signer

# What json.dumps(params, separators=(",", ":")) uses, built once instead of per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))

# -- what botocore's standard mode retries (botocore/retries/standard.py) -----------------------
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
# Errors of the operations the gateway calls, from botocore's service models (a test keeps this
# equal to them): an unmodelled 429 is throttling; a modelled error decides for itself.
# value: the modelled ``retryable`` trait ("throttling" / "transient"), or None.
_DDB_READ: dict[str, str | None] = {
    "InternalServerError": None,
    "ProvisionedThroughputExceededException": None,
    "RequestLimitExceeded": None,
    "ResourceNotFoundException": None,
    "ThrottlingException": None,
}
_DDB_BATCH: dict[str, str | None] = {
    **_DDB_READ,
    "ItemCollectionSizeLimitExceededException": None,
    "ReplicatedWriteConflictException": "transient",
}
_DDB_WRITE: dict[str, str | None] = {
    **_DDB_BATCH,
    "ConditionalCheckFailedException": None,
    "TransactionConflictException": None,
}
MODELLED_ERRORS: dict[tuple[str, str], dict[str, str | None]] = {
    ("dynamodb", "UpdateItem"): _DDB_WRITE,
    ("dynamodb", "PutItem"): _DDB_WRITE,
    ("dynamodb", "DeleteItem"): _DDB_WRITE,
    ("dynamodb", "GetItem"): _DDB_READ,
    ("dynamodb", "Query"): _DDB_READ,
    ("dynamodb", "BatchWriteItem"): _DDB_BATCH,
    ("dynamodb", "DescribeTable"): {"InternalServerError": None, "ResourceNotFoundException": None},
    ("secretsmanager", "GetSecretValue"): {
        "DecryptionFailure": None,
        "InternalServiceError": None,
        "InvalidParameterException": None,
        "InvalidRequestException": None,
        "ResourceNotFoundException": None,
    },
}
MAX_ATTEMPTS = {"dynamodb": 4}  # botocore's _SERVICE_MAX_ATTEMPTS; everything else 3
DEFAULT_MAX_ATTEMPTS = 3
_MAX_BACKOFF = 20.0
_RETRY_AFTER_MAX_ADDITIONAL = 5.0
_NON_THROTTLING_SCALE = {"dynamodb": 0.025}
RETRY_QUOTA = 500
RETRY_COST = 14
THROTTLING_RETRY_COST = 5
NO_RETRY_INCREMENT = 1

# Not botocore: what the other SDKs treat as clock skew (AWS SDK for JavaScript v3's list).
CLOCK_SKEW_CODES = frozenset(
    {
        "AuthFailure",
        "InvalidSignatureException",
        "RequestExpired",
        "RequestInTheFuture",
        "RequestTimeTooSkewed",
        "SignatureDoesNotMatch",
    }
)
_SKEW_THRESHOLD = 300.0  # SigV4 accepts 5 minutes either way
EXPIRED_CREDENTIAL_CODES = frozenset(
    {"ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException"}
)
_MIN_ATTEMPT_S = 0.05  # a retry with less time than this left is not started


def classify(
    service: str,
    operation: str,
    status: int | None,
    code: str | None,
    connection_error: bool = False,
    checksum_failed: bool = False,
) -> str | None:
    """botocore standard mode's verdict on one attempt: "throttling", "transient" or None."""
    if connection_error:
        return "transient"
    modelled = MODELLED_ERRORS.get((service, operation), {})
    if code in THROTTLING_CODES:
        return "throttling"
    if code is not None and code in modelled:
        trait = modelled[code]
        if trait is not None:
            return trait
    elif status == 429:
        return "throttling"
    if code in TRANSIENT_CODES or status in TRANSIENT_STATUSES:
        return "transient"
    if checksum_failed and service == "dynamodb":
        return "transient"
    return None


def backoff_delay(
    attempt: int,
    throttling: bool,
    service: str,
    rand: Callable[[], float] = random.random,
    retry_after_ms: str | None = None,
) -> float:
    """botocore's ExponentialBackoff.delay_amount; ``attempt`` is the 1-based failed attempt."""
    scale = 1.0 if throttling else _NON_THROTTLING_SCALE.get(service, 0.05)
    delay = rand() * min(scale * 2 ** (attempt - 1), _MAX_BACKOFF)
    if retry_after_ms is not None:
        try:
            after = int(retry_after_ms) / 1000.0
        except (ValueError, OverflowError):
            return delay
        if after >= 0:
            return max(delay, min(after, _RETRY_AFTER_MAX_ADDITIONAL + delay))
    return delay


class RetryQuota:
    """botocore's RetryQuota + RetryQuotaChecker accounting (one per client)."""

    def __init__(self, capacity: int = RETRY_QUOTA) -> None:
        self.max = capacity
        self.available = capacity

    def acquire(self, amount: int) -> bool:
        if amount > self.available:
            return False
        self.available -= amount
        return True

    def release(self, amount: int) -> None:
        self.available = min(self.max, self.available + amount)


# -- the request's deadline ------------------------------------------------------------------
_deadline: ContextVar[float | None] = ContextVar("gateway_request_deadline", default=None)


@contextlib.contextmanager
def request_deadline(seconds: float) -> Iterator[None]:
    """Bound every AWS call (attempts and backoff) made inside to ``seconds`` from now."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining_time(default: float) -> float:
    """Seconds left before the current request's deadline (``default`` outside a request)."""
    deadline = _deadline.get()
    return default if deadline is None else deadline - time.monotonic()


# -- errors ----------------------------------------------------------------------------------
class AwsCallError(Exception):
    """An AWS API answered with an error (``code`` is the short exception name).

    ``message`` is AWS's own text: it can name the role, account and table, so it belongs in
    the error log line, never in a client's answer."""

    def __init__(
        self, code: str, message: str, status: int, data: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.data = dict(data or {})


class AwsThrottled(AwsCallError):
    """Throttled on every attempt the retry policy allowed."""

    @property
    def reasons(self) -> list[str]:
        """DynamoDB's ``ThrottlingReasons`` (e.g. ``TableWriteKeyRangeThroughputExceeded``)."""
        raw = self.data.get("ThrottlingReasons") or self.data.get("throttlingReasons") or []
        if not isinstance(raw, list):
            return []
        return [str(r.get("reason", "")) for r in raw if isinstance(r, dict)]

    @property
    def hot_key(self) -> bool:
        """The throttle is about the item's own partition (or AWS did not say otherwise)."""
        reasons = self.reasons
        return not reasons or any("KeyRange" in r for r in reasons)


class AwsUnavailable(Exception):
    """The AWS endpoint could not be reached, failed (5xx) or did not answer in time."""


class CredentialsUnavailable(AwsUnavailable):
    """No credentials could be found or refreshed."""


# -- credentials -----------------------------------------------------------------------------
ADVISORY_REFRESH = 15 * 60  # botocore's _DEFAULT_ADVISORY_REFRESH_TIMEOUT
MANDATORY_REFRESH = 10 * 60  # botocore's _DEFAULT_MANDATORY_REFRESH_TIMEOUT


class StaticCredentials:
    """Credentials that never expire (the environment variables)."""

    refreshable = False
    on_warning: Callable[[str], None] | None = None

    def __init__(self, creds: Credentials) -> None:
        self.creds = creds

    async def get(self) -> Credentials:
        return self.creds

    def invalidate(self, used: Credentials | None = None) -> None:
        pass


Fetch = Callable[[], Awaitable[tuple[Credentials, float | None]]]


class RefreshingCredentials:
    """botocore's RefreshableCredentials on asyncio. ``fetch`` returns the credentials and
    their expiry (epoch seconds, None for never); ``clock`` is epoch seconds."""

    refreshable = True

    def __init__(
        self,
        fetch: Fetch,
        method: str,
        clock: Callable[[], float] = time.time,
        advisory: float = ADVISORY_REFRESH,
        mandatory: float = MANDATORY_REFRESH,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self.method = method
        self.clock = clock
        self.advisory = advisory
        self.mandatory = mandatory
        self.on_warning = on_warning
        self.creds: Credentials | None = None
        self.expiry: float | None = None
        self.fetches = 0
        self._flight = SingleFlight()

    def refresh_needed(self, within: float) -> bool:
        if self.creds is None:
            return True
        if self.expiry is None:
            return False
        return self.expiry - self.clock() < within

    async def get(self) -> Credentials:
        if not self.refresh_needed(self.advisory):
            return self.creds  # type: ignore[return-value]
        mandatory = self.refresh_needed(self.mandatory)
        if self._flight.running() and not mandatory:
            return self.creds  # type: ignore[return-value]  # someone else is refreshing
        try:
            await self._flight.run(self._refresh)
        except Exception as exc:  # any failure: tolerated in the advisory window only
            if mandatory:
                raise CredentialsUnavailable(
                    f"{self.method}: credential refresh failed: {exc}"
                ) from None
            if self.on_warning is not None:
                self.on_warning(f"{self.method}: advisory credential refresh failed: {exc}")
        if self.refresh_needed(0):
            raise CredentialsUnavailable(
                f"{self.method}: credentials were refreshed but are still expired"
            )
        return self.creds  # type: ignore[return-value]

    async def _refresh(self) -> None:
        self.fetches += 1
        creds, expiry = await self._fetch()
        self.creds, self.expiry = creds, expiry

    def invalidate(self, used: Credentials | None = None) -> None:
        """The service called ``used`` expired: the next ``get`` must fetch new ones (unless
        they were already replaced while that call was under way)."""
        if self.creds is not None and (used is None or used is self.creds):
            self.expiry = self.clock() - 1


def parse_expiry(value: object) -> float | None:
    """An ISO 8601 ``Expiration`` as epoch seconds."""
    if not value:
        return None
    text = str(value).strip()
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"unreadable credential expiration {text[:40]!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


CONTAINER_HOST = "169.254.170.2"
_CONTAINER_HOSTS = frozenset({CONTAINER_HOST, "169.254.170.23", "fd00:ec2::23", "localhost"})


def container_url(env: Mapping[str, str]) -> str | None:
    """The container credentials URL from the environment, checked as botocore checks it."""
    relative = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    if relative:
        return f"http://{CONTAINER_HOST}{relative}"
    full = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if not full:
        return None
    parts = urlsplit(full)
    host = parts.hostname or ""
    if parts.scheme == "https":
        return full
    import ipaddress  # only with a container URL: not on every cold start

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "http" or not (loopback or host in _CONTAINER_HOSTS):
        raise CredentialsUnavailable(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, a loopback address or one of "
            + ", ".join(sorted(_CONTAINER_HOSTS))
        )
    return full


def _container_token(env: Mapping[str, str]) -> str | None:
    path = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    token: str | None
    if path:
        with open(path, encoding="utf-8") as fh:  # re-read every time: EKS rotates the file
            token = fh.read()
    else:
        token = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
    if token is not None and ("\r" in token or "\n" in token):
        raise CredentialsUnavailable("the container authorization token is not a legal header")
    return token


def container_fetcher(
    http: HttpClient,
    url: str,
    env: Mapping[str, str],
    attempts: int = 3,
    timeout: float = 2.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Fetch:
    """botocore's ContainerMetadataFetcher: GET with ``Accept`` and ``Authorization``, 2 s
    timeout, 3 attempts 1 s apart (all within the request's remaining time)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    async def fetch() -> tuple[Credentials, float | None]:
        headers = [("accept", "application/json")]
        token = _container_token(env)
        if token is not None:
            headers.append(("authorization", token))
        problem = ""
        for attempt in range(attempts):
            left = remaining_time(timeout * attempts + attempts)
            if left <= _MIN_ATTEMPT_S:
                break
            try:
                resp = await http.request(
                    "GET",
                    parts.scheme,
                    parts.hostname or "",
                    port,
                    target,
                    headers,
                    connect_timeout=min(timeout, left),
                    timeout=min(timeout, left),
                )
                if resp.status != 200:
                    raise ValueError(f"HTTP {resp.status}")
                data = json.loads(resp.body)
                creds = Credentials(data["AccessKeyId"], data["SecretAccessKey"], data["Token"])
                return creds, parse_expiry(data.get("Expiration"))
            except (HttpError, ValueError, KeyError, TypeError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt + 1 < attempts:
                await sleep(min(1.0, max(remaining_time(1.0) - _MIN_ATTEMPT_S, 0)))
        raise CredentialsUnavailable(f"container credentials from {parts.hostname}: {problem}")

    return fetch


def _botocore_credentials() -> tuple[Credentials, float | None]:
    import botocore.session  # only outside Lambda/containers, when nothing above applies

    found = botocore.session.get_session().get_credentials()
    if found is None:
        raise CredentialsUnavailable(
            "no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile)"
        )
    frozen = found.get_frozen_credentials()
    expiry = getattr(found, "_expiry_time", None)  # RefreshableCredentials only
    return (
        Credentials(frozen.access_key or "", frozen.secret_key or "", frozen.token),
        expiry.timestamp() if expiry is not None else None,
    )


async def _botocore_fetch() -> tuple[Credentials, float | None]:
    return await asyncio.get_running_loop().run_in_executor(None, _botocore_credentials)


def credential_chain(
    http: HttpClient, env: Mapping[str, str]
) -> StaticCredentials | RefreshingCredentials:
    """Environment variables, then the container provider, then botocore's chain."""
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return StaticCredentials(Credentials(key, secret, env.get("AWS_SESSION_TOKEN") or None))
    try:
        url = container_url(env)
    except CredentialsUnavailable as exc:
        problem = exc  # reported on first use, not at build time (no crash in Lambda's init)

        async def refuse() -> tuple[Credentials, float | None]:
            raise problem

        return RefreshingCredentials(refuse, "container-role")
    if url is not None:
        return RefreshingCredentials(container_fetcher(http, url, env), "container-role")
    return RefreshingCredentials(_botocore_fetch, "botocore")


def endpoint_for(
    service_env: str, default_host: str, env: Mapping[str, str]
) -> tuple[str, str, int, str]:
    url = env.get(f"AWS_ENDPOINT_URL_{service_env}") or env.get("AWS_ENDPOINT_URL")
    if not url:
        return "https", default_host, 443, default_host
    parts = urlsplit(url)
    scheme = parts.scheme or "https"
    port = parts.port or (443 if scheme == "https" else 80)
    host = parts.hostname or default_host
    default_port = 443 if scheme == "https" else 80
    authority = f"[{host}]" if ":" in host else host  # an IPv6 literal (RFC 3986 3.2.2)
    return scheme, host, port, authority if port == default_port else f"{authority}:{port}"


def _error_of(data: Mapping[str, Any], headers_code: str | None) -> tuple[str, str]:
    code = str(data.get("__type") or headers_code or "UnknownError")
    code = code.rsplit("#", 1)[-1].split(":", 1)[0]
    message = str(data.get("message") or data.get("Message") or "")
    return code, message


class AwsJsonClient:
    """POST-only client for the AWS JSON 1.0/1.1 protocols."""

    def __init__(
        self,
        http: HttpClient,
        service: str,
        target_prefix: str,
        json_version: str,
        region: str,
        endpoint: tuple[str, str, int, str],
        env: Mapping[str, str],
        timeout: float = 3.0,
        connect_timeout: float = 1.0,
        max_attempts: int | None = None,
        credentials: StaticCredentials | RefreshingCredentials | None = None,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.http = http
        self.service = service
        self.signer = Signer(service, region)
        self.target_prefix = target_prefix
        self.content_type = f"application/x-amz-json-{json_version}"
        self.scheme, self.host, self.port, self.host_header = endpoint
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_attempts = max_attempts or MAX_ATTEMPTS.get(service, DEFAULT_MAX_ATTEMPTS)
        self.credentials = credentials or credential_chain(http, env)
        self.quota = RetryQuota()
        self.rand = rand
        self.sleep = sleep
        self.clock_offset = 0.0  # server time minus ours, learnt from clock-skew errors
        self.calls = 0  # every HTTP attempt made, for tests and bench/overhead.py
        self.retries = 0
        self._headers: dict[str, dict[str, str]] = {}  # operation -> the headers to sign
        self._date: tuple[int, str] = (-1, "")

    def _amz_date(self) -> str:
        """``YYYYMMDDTHHMMSSZ`` for now (UTC, skew-corrected), formatted once per second."""
        now = int(time.time() + self.clock_offset)
        if self._date[0] != now:
            self._date = (now, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)))
        return self._date[1]

    def _correct_skew(self, date_header: str | None) -> bool:
        if not date_header:
            return False
        from email.utils import parsedate_to_datetime  # only after a clock-skew error

        try:
            server = parsedate_to_datetime(date_header).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        offset = server - time.time()
        if abs(offset - self.clock_offset) < _SKEW_THRESHOLD:
            return False
        self.clock_offset = offset
        return True

    async def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return await self.call_body(operation, _ENCODER.encode(params).encode())

    async def call_body(self, operation: str, body: bytes) -> dict[str, Any]:
        """``call`` with the request JSON already serialised (for callers that template it)."""
        headers = self._headers.get(operation)
        if headers is None:
            headers = {
                "content-type": self.content_type,
                "x-amz-target": f"{self.target_prefix}.{operation}",
            }
            self._headers[operation] = headers
        deadline = _deadline.get()
        if deadline is None:
            deadline = time.monotonic() + self.timeout * self.max_attempts
        attempt = 0
        acquired: int | None = None
        refreshed = False
        while True:
            attempt += 1
            left = deadline - time.monotonic()
            creds = await self.credentials.get()
            signed = self.signer.sign(creds, self.host_header, headers, body, self._amz_date())
            self.calls += 1
            retry_after: str | None = None
            try:
                resp = await self.http.request(
                    "POST",
                    self.scheme,
                    self.host,
                    self.port,
                    "/",
                    signed,
                    body,
                    host_header=self.host_header,
                    connect_timeout=max(min(self.connect_timeout, self.timeout, left), 0.001),
                    timeout=max(min(self.timeout, left), 0.001),
                )
            except HttpError as exc:
                error: Exception = AwsUnavailable(f"{operation}: {exc}")
                verdict: str | None = "transient"
            else:
                crc = resp.header("x-amz-crc32")
                checksum_failed = (
                    crc is not None and crc.isdigit() and int(crc) != zlib.crc32(resp.body)
                )
                if 200 <= resp.status < 300 and not checksum_failed:
                    self.quota.release(acquired if acquired is not None else NO_RETRY_INCREMENT)
                    try:
                        return json.loads(resp.body) if resp.body else {}
                    except ValueError:
                        raise AwsUnavailable(f"{operation}: response is not JSON") from None
                try:
                    data = json.loads(resp.body) if resp.body else {}
                except ValueError:
                    data = {}
                if not isinstance(data, dict):
                    data = {}
                if 200 <= resp.status < 300:
                    code, message = "ChecksumMismatch", "x-amz-crc32 does not match the body"
                else:
                    code, message = _error_of(data, resp.header("x-amzn-errortype"))
                retry_after = resp.header("x-amz-retry-after")
                verdict = classify(
                    self.service, operation, resp.status, code, checksum_failed=checksum_failed
                )
                if verdict is None and code in CLOCK_SKEW_CODES:
                    verdict = "transient" if self._correct_skew(resp.header("date")) else None
                if (
                    verdict is None
                    and code in EXPIRED_CREDENTIAL_CODES
                    and self.credentials.refreshable
                    and not refreshed
                ):
                    refreshed = True
                    self.credentials.invalidate(creds)
                    verdict = "transient"
                if resp.status >= 500 or checksum_failed:
                    error = AwsUnavailable(f"{operation}: HTTP {resp.status} {code}: {message}")
                elif verdict == "throttling":
                    error = AwsThrottled(code, message, resp.status, data)
                else:
                    error = AwsCallError(code, message, resp.status, data)
            if verdict is None or attempt >= self.max_attempts:
                raise error
            throttling = verdict == "throttling"
            cost = THROTTLING_RETRY_COST if throttling else RETRY_COST
            if not self.quota.acquire(cost):
                raise error
            delay = backoff_delay(attempt, throttling, self.service, self.rand, retry_after)
            if time.monotonic() + delay + _MIN_ATTEMPT_S >= deadline:
                self.quota.release(cost)  # the retry is not made
                raise error
            acquired = cost
            self.retries += 1
            await self.sleep(delay)


def _client(
    http: HttpClient,
    region: str,
    env: Mapping[str, str] | None,
    service: str,
    endpoint_env: str,
    target_prefix: str,
    json_version: str,
    **kwargs: Any,
) -> AwsJsonClient:
    env = os.environ if env is None else env
    endpoint = endpoint_for(endpoint_env, f"{service}.{region}.amazonaws.com", env)
    return AwsJsonClient(
        http, service, target_prefix, json_version, region, endpoint, env, **kwargs
    )


def dynamodb_client(
    http: HttpClient, region: str, env: Mapping[str, str] | None = None, **kwargs: Any
) -> AwsJsonClient:
    return _client(http, region, env, "dynamodb", "DYNAMODB", "DynamoDB_20120810", "1.0", **kwargs)


def secretsmanager_client(
    http: HttpClient, region: str, env: Mapping[str, str] | None = None, **kwargs: Any
) -> AwsJsonClient:
    return _client(
        http, region, env, "secretsmanager", "SECRETS_MANAGER", "secretsmanager", "1.1", **kwargs
    )
