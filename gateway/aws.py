"""Async clients for the AWS JSON APIs the gateway calls (DynamoDB, Secrets Manager).

They share the process's ``HttpClient`` and sign with ``sigv4.Signer``. Credentials come from
the standard environment variables (what Lambda sets, including AWS_SESSION_TOKEN); only when
they are absent is botocore's credential chain imported, once, off the event loop. Endpoints
follow the SDK convention: AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL, then the
regional AWS endpoint.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from gateway.http_client import HttpClient, HttpError
from gateway.sigv4 import Credentials, Signer

# What json.dumps(params, separators=(",", ":")) uses, built once instead of per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))
_date_cache: tuple[int, str] = (-1, "")


def _amz_date() -> str:
    """``YYYYMMDDTHHMMSSZ`` for now (UTC), formatted once per second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)))
    return _date_cache[1]


class AwsCallError(Exception):
    """An AWS API answered with an error (``code`` is the short exception name)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class AwsUnavailable(Exception):
    """The AWS endpoint could not be reached or did not answer in time."""


def _env_credentials(env: Mapping[str, str]) -> Credentials | None:
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return Credentials(key, secret, env.get("AWS_SESSION_TOKEN") or None)
    return None


def _botocore_credentials() -> Credentials:
    import botocore.session  # only outside Lambda, when the env vars are not set

    found = botocore.session.get_session().get_credentials()
    if found is None:
        raise AwsUnavailable(
            "no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile)"
        )
    frozen = found.get_frozen_credentials()
    return Credentials(frozen.access_key or "", frozen.secret_key or "", frozen.token)


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
    return scheme, host, port, host if port == default_port else f"{host}:{port}"


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
    ) -> None:
        self.http = http
        self.signer = Signer(service, region)
        self.target_prefix = target_prefix
        self.content_type = f"application/x-amz-json-{json_version}"
        self.scheme, self.host, self.port, self.host_header = endpoint
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.calls = 0  # every API call made, for tests and bench/overhead.py
        self._creds = _env_credentials(env)
        self._headers: dict[str, dict[str, str]] = {}  # operation -> the headers to sign

    async def _credentials(self) -> Credentials:
        if self._creds is None:
            self._creds = await asyncio.get_running_loop().run_in_executor(
                None, _botocore_credentials
            )
        return self._creds

    async def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return await self.call_body(operation, _ENCODER.encode(params).encode())

    async def call_body(self, operation: str, body: bytes) -> dict[str, Any]:
        """``call`` with the request JSON already serialised (for callers that template it)."""
        unsigned = self._headers.get(operation)
        if unsigned is None:
            unsigned = {
                "content-type": self.content_type,
                "x-amz-target": f"{self.target_prefix}.{operation}",
            }
            self._headers[operation] = unsigned
        headers = self.signer.sign(
            await self._credentials(), self.host_header, unsigned, body, _amz_date()
        )
        self.calls += 1
        try:
            resp = await self.http.request(
                "POST",
                self.scheme,
                self.host,
                self.port,
                "/",
                headers,
                body,
                host_header=self.host_header,
                connect_timeout=min(self.connect_timeout, self.timeout),
                timeout=self.timeout,
            )
        except HttpError as exc:
            raise AwsUnavailable(f"{operation}: {exc}") from None
        try:
            data = json.loads(resp.body) if resp.body else {}
        except ValueError:
            data = {}
        if resp.status >= 500:
            raise AwsUnavailable(
                f"{operation}: HTTP {resp.status} {data.get('message') or data.get('Message') or ''}".rstrip()
            )
        if resp.status >= 400:
            code = str(data.get("__type", "UnknownError")).rsplit("#", 1)[-1]
            message = str(data.get("message") or data.get("Message") or "")
            if code in (
                "ThrottlingException",
                "ProvisionedThroughputExceededException",
                "RequestLimitExceeded",
            ):
                raise AwsUnavailable(f"{operation}: {code}")
            raise AwsCallError(code, message, resp.status)
        return data


def dynamodb_client(
    http: HttpClient, region: str, env: Mapping[str, str] | None = None
) -> AwsJsonClient:
    env = os.environ if env is None else env
    endpoint = endpoint_for("DYNAMODB", f"dynamodb.{region}.amazonaws.com", env)
    return AwsJsonClient(http, "dynamodb", "DynamoDB_20120810", "1.0", region, endpoint, env)


def secretsmanager_client(
    http: HttpClient, region: str, env: Mapping[str, str] | None = None
) -> AwsJsonClient:
    env = os.environ if env is None else env
    endpoint = endpoint_for("SECRETS_MANAGER", f"secretsmanager.{region}.amazonaws.com", env)
    return AwsJsonClient(http, "secretsmanager", "secretsmanager", "1.1", region, endpoint, env)
