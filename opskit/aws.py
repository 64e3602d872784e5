"""One boto3 session and a client factory: profile, region, retries, local endpoint."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from opskit.errors import AwsError

RETRY_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 8}, connect_timeout=5, read_timeout=60
)
# Fixed-region services: Cost Explorer and Budgets answer only in us-east-1 (Pricing too).
GLOBAL_SERVICE_REGIONS = {"ce": "us-east-1", "budgets": "us-east-1", "pricing": "us-east-1"}
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class ClientFactory:
    """Builds and caches clients. `endpoint_url` points every client at an emulator."""

    def __init__(
        self,
        region: str,
        profile: str | None = None,
        endpoint_url: str | None = None,
        session: boto3.session.Session | None = None,
    ):
        self.region = region
        self.endpoint_url = endpoint_url
        if session is None:
            kwargs: dict[str, Any] = {"region_name": region}
            if endpoint_url:
                kwargs.update(LOCAL_CREDENTIALS)
            elif profile:
                kwargs["profile_name"] = profile
            try:
                session = boto3.session.Session(**kwargs)
            except botocore.exceptions.ProfileNotFound as exc:
                raise AwsError(
                    f"AWS profile '{profile}' not found",
                    str(exc),
                    "run `aws configure list-profiles` or fix `profile` in opskit.toml",
                ) from None
        self.session = session
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str | None = None) -> Any:
        region = region or GLOBAL_SERVICE_REGIONS.get(service, self.region)
        key = (service, region)
        if key not in self._clients:
            kwargs: dict[str, Any] = {"region_name": region, "config": RETRY_CONFIG}
            if self.endpoint_url:
                kwargs["endpoint_url"] = self.endpoint_url
            self._clients[key] = self.session.client(service, **kwargs)
        return self._clients[key]


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return exc.response.get("Error", {}).get("Code", "")
    return ""


def aws_error(action: str, exc: BaseException, fix: str = "") -> AwsError:
    """Turn a botocore failure into one actionable line."""
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return AwsError(
            action,
            "no AWS credentials found",
            "run `aws configure` / `aws sso login`, or pass --profile",
        )
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return AwsError(
            action,
            f"cannot reach {exc.kwargs.get('endpoint_url')}",
            fix or "check the network, region or `opskit local up`",
        )
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        code, message = err.get("Code", "Error"), err.get("Message", "")
        if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
            fix = fix or "grant the IAM action named above to your role"
        elif code in {"ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException"}:
            fix = fix or "refresh your credentials (`aws sso login`)"
        return AwsError(action, f"{code}: {message}".rstrip(": "), fix)
    return AwsError(action, str(exc), fix)
