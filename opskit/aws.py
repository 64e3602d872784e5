"""One boto3 session and a client factory: profile, region, retries, local endpoint."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import botocore.exceptions
import botocore.session
from botocore.config import Config

from opskit import envvars
from opskit.errors import AwsError, ConfigError

if TYPE_CHECKING:
    from mypy_boto3_budgets import BudgetsClient
    from mypy_boto3_ce import CostExplorerClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_pricing import PricingClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sts import STSClient

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
                # An emulator takes fixed credentials: no profile, not even $AWS_PROFILE's,
                # so `--profile x` and `AWS_PROFILE=x` are both ignored the same way.
                kwargs.update(LOCAL_CREDENTIALS)
                kwargs["botocore_session"] = botocore.session.Session(
                    session_vars={"profile": (None, None, None, None)}
                )
            elif profile:
                kwargs["profile_name"] = profile
            try:
                session = boto3.session.Session(**kwargs)
            except botocore.exceptions.ProfileNotFound as exc:
                raise profile_not_found(exc, profile) from None
        self.session = session
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str | None = None) -> Any:
        region = region or GLOBAL_SERVICE_REGIONS.get(service, self.region)
        key = (service, region)
        if key not in self._clients:
            kwargs: dict[str, Any] = {"region_name": region, "config": RETRY_CONFIG}
            if self.endpoint_url:
                kwargs["endpoint_url"] = self.endpoint_url
            try:
                make: Callable[..., Any] = self.session.client  # typed accessors: App
                self._clients[key] = make(service, **kwargs)
            except botocore.exceptions.ProfileNotFound as exc:
                raise profile_not_found(exc, None) from None
            except ValueError as exc:  # botocore's "Invalid endpoint: ..."
                raise bad_endpoint(self.endpoint_url, exc) from None
        return self._clients[key]

    # Typed accessors (mypy-boto3 stubs, a dev dependency): what services should be given.
    def cloudformation(self) -> CloudFormationClient:
        return self.client("cloudformation")

    def logs(self) -> CloudWatchLogsClient:
        return self.client("logs")

    def cloudwatch(self) -> CloudWatchClient:
        return self.client("cloudwatch")

    def s3(self) -> S3Client:
        return self.client("s3")

    def sts(self) -> STSClient:
        return self.client("sts")

    def sns(self) -> SNSClient:
        return self.client("sns")

    def budgets(self) -> BudgetsClient:
        return self.client("budgets")

    def ce(self) -> CostExplorerClient:
        return self.client("ce")

    def pricing(self) -> PricingClient:
        return self.client("pricing")

    def secretsmanager(self) -> SecretsManagerClient:
        return self.client("secretsmanager")

    def lambda_(self) -> LambdaClient:  # `lambda` is a keyword
        return self.client("lambda")

    def dynamodb(self) -> DynamoDBClient:
        return self.client("dynamodb")


def profile_not_found(exc: botocore.exceptions.ProfileNotFound, profile: str | None) -> AwsError:
    """Name the profile that is missing, wherever it came from (flag, opskit.toml, $AWS_PROFILE)."""
    name = exc.kwargs.get("profile") or profile or os.environ.get(envvars.AWS_PROFILE)
    source = (
        f" (from --profile, ${envvars.PROFILE} or opskit.toml)"
        if profile
        else " (from $AWS_PROFILE)"
    )
    return AwsError(
        f"AWS profile '{name}'{source} not found",
        "it is not in ~/.aws/config or ~/.aws/credentials",
        "run `aws configure list-profiles`, then pass --profile or fix `profile` in opskit.toml",
    )


def bad_endpoint(endpoint_url: str | None, exc: ValueError) -> ConfigError:
    if endpoint_url:
        where, value = f"${envvars.ENDPOINT_URL} or .opskit/local.json", endpoint_url
    else:
        where = f"${envvars.AWS_ENDPOINT_URL}"
        value = os.environ.get(envvars.AWS_ENDPOINT_URL, "")
    return ConfigError(
        f"endpoint URL {value!r} is not a URL",
        f"{where} sets it ({exc})",
        "use http://HOST:PORT, or unset it",
    )


MISSING_CODES = frozenset({"ResourceNotFoundException", "NotFoundException", "NoSuchEntity"})


def call(action: str, fn: Callable[..., Any], *, fix: str = "", **kwargs: Any) -> Any:
    """Call one AWS API; any failure becomes one AwsError line naming `action`.

    `fix` is what to do when the resource is missing (ResourceNotFoundException and kin);
    other failures get aws_error's own advice (credentials, permissions, throttling).
    """
    try:
        return fn(**kwargs)
    except botocore.exceptions.ClientError as exc:
        raise aws_error(action, exc, fix if error_code(exc) in MISSING_CODES else "") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise aws_error(action, exc) from None


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
