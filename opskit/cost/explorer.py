"""Cost Explorer calls: paginated, cached on disk, counted ($0.01 a request), errors made plain.

The client must be the us-east-1 `ce` client (ClientFactory pins it). Cache:
`<state_dir>/cache/ce/<sha256>.json`, keyed by the AWS account id (from STS, itself cached
per credentials), so switching credentials never shows another account's numbers. How long
an answer is kept depends on how settled its period is:
- touching today or later (open): OPEN_TTL;
- ended less than FINAL_DAYS ago: a day (late refunds, credits and tag backfills still land
  on a closed month until the bill is final, early in the month after);
- ended FINAL_DAYS or more ago: kept (the month's bill is final).
Only answered calls are counted as paid requests; failures are counted apart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.aws import error_code
from opskit.errors import AwsError, ConfigError

if TYPE_CHECKING:
    from mypy_boto3_ce import CostExplorerClient

CE_REQUEST_USD = 0.01
FINAL_DAYS = 35
OPEN_TTL = timedelta(hours=6)
CLOSED_TTL = timedelta(days=1)
IAM_ACTIONS = {
    "GetCostAndUsage": "ce:GetCostAndUsage",
    "GetCostForecast": "ce:GetCostForecast",
    "ListCostAllocationTags": "ce:ListCostAllocationTags",
    "GetAnomalies": "ce:GetAnomalies",
}


@dataclass
class RequestCounter:
    requests: int = 0  # billable calls answered by Cost Explorer
    cached: int = 0  # answered from the disk cache
    failed: int = 0  # calls that failed (not billed)
    by_operation: dict[str, int] = field(default_factory=dict)

    def count(self, operation: str) -> None:
        self.requests += 1
        self.by_operation[operation] = self.by_operation.get(operation, 0) + 1

    @property
    def cost_usd(self) -> float:
        return self.requests * CE_REQUEST_USD

    def summary(self) -> str:
        text = (
            f"Cost Explorer paid requests: {self.requests} (${self.cost_usd:.2f}), "
            f"{self.cached} from cache"
        )
        if self.failed:
            text += f", {self.failed} failed (not billed)"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "cost_usd": round(self.cost_usd, 2),
            "cached": self.cached,
            "failed": self.failed,
            "by_operation": dict(sorted(self.by_operation.items())),
        }


class DiskCache:
    def __init__(self, directory: Path | None, clock: Callable[[], datetime]):
        self.directory = directory
        self.clock = clock

    def _path(self, key: dict[str, Any]) -> Path | None:
        if self.directory is None:
            return None
        digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
        return self.directory / f"{digest}.json"

    def get(self, key: dict[str, Any]) -> Any | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            entry = json.loads(path.read_text())
            expires = entry.get("expires")
            if expires is not None and datetime.fromisoformat(expires) <= self.clock():
                return None
            return entry["value"]
        except (ValueError, KeyError, OSError):
            return None

    def forget(self, key: dict[str, Any]) -> None:
        path = self._path(key)
        if path is not None:
            path.unlink(missing_ok=True)

    def put(self, key: dict[str, Any], value: Any, ttl: timedelta | None) -> None:
        """Store `value`; `ttl` None keeps it for good."""
        path = self._path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        expires = None if ttl is None else (self.clock() + ttl).isoformat()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "key": key,
                    "stored": self.clock().isoformat(),
                    "expires": expires,
                    "value": value,
                },
                default=str,
            )
        )
        tmp.replace(path)


def ttl_for(end: date, today: date, estimated: bool = False) -> timedelta | None:
    """How long an answer about a period ending (exclusive) on `end` may be reused."""
    if estimated or end > today:
        return OPEN_TTL
    if end + timedelta(days=FINAL_DAYS) > today:
        return CLOSED_TTL
    return None


def ce_error(operation: str, exc: BaseException) -> AwsError | ConfigError:
    """The known Cost Explorer failures, each with what to do."""
    code = error_code(exc)
    message = ""
    if hasattr(exc, "response"):
        message = exc.response.get("Error", {}).get("Message", "")
    action = IAM_ACTIONS.get(operation, f"ce:{operation}")
    if code in {"AccessDeniedException", "AccessDenied"} and "not enabled" in message.lower():
        return AwsError(
            "Cost Explorer is not enabled for this account",
            message or code,
            "enable it once in the Billing console (Cost Explorer > Launch Cost Explorer); data appears within 24 hours",
        )
    if code in {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"}:
        return AwsError(
            f"Cost Explorer {operation} was denied",
            message or code,
            f"grant {action} to this identity (the IAM action this call needs)",
        )
    if code == "DataUnavailableException":
        return AwsError(
            f"Cost Explorer has no data for this request ({operation})",
            message or "data not yet available",
            "data appears up to 24 hours after enabling Cost Explorer and lags about a day; try an earlier period",
        )
    if code == "BillExpirationException":
        return AwsError(
            "Cost Explorer cannot go that far back",
            message,
            "Cost Explorer keeps 14 months (38 with multi-year data): pick a later --since",
        )
    if code == "LimitExceededException":
        return AwsError(
            "Cost Explorer rate limit hit",
            message,
            "wait a minute and retry; cached answers are reused",
        )
    if code == "RequestChangedException":
        return AwsError(
            "Cost Explorer data changed during pagination", message, "rerun the command"
        )
    if code in {"ValidationException", "InvalidNextTokenException"}:
        return ConfigError(
            f"Cost Explorer rejected {operation}",
            message or code,
            "check --since/--until, --group-by and --metric",
        )
    from opskit.aws import aws_error

    return aws_error(f"Cost Explorer {operation}", exc, f"grant {action}")


class _Namespaced:
    """One cache per AWS account: the same query answers differently in another account."""

    def __init__(self, cache: DiskCache, namespace: str):
        self.inner, self.namespace = cache, namespace

    def get(self, key: dict[str, Any]) -> Any | None:
        return self.inner.get({"ns": self.namespace, **key})

    def put(self, key: dict[str, Any], value: Any, ttl: timedelta | None) -> None:
        self.inner.put({"ns": self.namespace, **key}, value, ttl)

    def forget(self, key: dict[str, Any]) -> None:
        self.inner.forget({"ns": self.namespace, **key})


class CostExplorer:
    """Thin service over the ce client: every call paginated, cached and counted."""

    def __init__(
        self,
        ce: CostExplorerClient,
        cache: DiskCache,
        today: date,
        counter: RequestCounter | None = None,
        account_id: str = "",
    ):
        self.ce = ce
        self.cache = _Namespaced(cache, account_id)
        self.today = today
        self.counter = counter or RequestCounter()

    def _call(
        self, operation: str, method: Callable[..., Mapping[str, Any]], kwargs: dict[str, Any]
    ) -> Mapping[str, Any]:
        try:
            response = method(**kwargs)
        except Exception as exc:
            self.counter.failed += 1
            if hasattr(exc, "response") or exc.__class__.__module__.startswith("botocore"):
                raise ce_error(operation, exc) from None
            raise
        self.counter.count(operation)  # only an answered call is billed
        return response

    def cost_and_usage(self, request: dict[str, Any], end: date) -> dict[str, Any]:
        """All pages of GetCostAndUsage, merged: ResultsByTime concatenated in order."""
        key = {"op": "GetCostAndUsage", **request}
        cached = self.cache.get(key)
        if cached is not None:
            self.counter.cached += 1
            return cached
        results: list[dict[str, Any]] = []
        attributes: list[dict[str, Any]] = []
        kwargs = dict(request)
        while True:
            page = self._call("GetCostAndUsage", self.ce.get_cost_and_usage, kwargs)
            results.extend(page.get("ResultsByTime", []))
            attributes.extend(page.get("DimensionValueAttributes", []))
            token = page.get("NextPageToken")
            if not token:
                break
            kwargs = {**request, "NextPageToken": token}
        merged = {"ResultsByTime": results, "DimensionValueAttributes": attributes}
        estimated = any(r.get("Estimated") for r in results)
        self.cache.put(key, merged, ttl_for(end, self.today, estimated))
        return merged

    def forecast(self, request: dict[str, Any]) -> dict[str, Any]:
        key = {"op": "GetCostForecast", **request}
        cached = self.cache.get(key)
        if cached is not None:
            self.counter.cached += 1
            return cached
        response = self._call("GetCostForecast", self.ce.get_cost_forecast, request)
        value = {
            "Total": response.get("Total", {}),
            "ForecastResultsByTime": response.get("ForecastResultsByTime", []),
        }
        self.cache.put(key, value, OPEN_TTL)
        return value

    def forget_cost_allocation_tags(self, keys: list[str]) -> None:
        """After an activation: the cached statuses are stale."""
        self.cache.forget({"op": "ListCostAllocationTags", "keys": sorted(keys)})

    def cost_allocation_tags(self, keys: list[str]) -> dict[str, str]:
        """TagKey -> Status (Active/Inactive) for the given user-defined tag keys."""
        cache_key = {"op": "ListCostAllocationTags", "keys": sorted(keys)}
        cached = self.cache.get(cache_key)
        if cached is not None:
            self.counter.cached += 1
            return cached
        status: dict[str, str] = {}
        kwargs: dict[str, Any] = {"TagKeys": sorted(keys)}
        while True:
            page = self._call("ListCostAllocationTags", self.ce.list_cost_allocation_tags, kwargs)
            for tag in page.get("CostAllocationTags", []):
                status[tag["TagKey"]] = tag.get("Status", "Inactive")
            token = page.get("NextToken")
            if not token:
                break
            kwargs = {"TagKeys": sorted(keys), "NextToken": token}
        self.cache.put(cache_key, status, OPEN_TTL)
        return status

    def anomalies(self, start: date, end: date, max_pages: int = 20) -> list[dict[str, Any]]:
        key = {"op": "GetAnomalies", "start": start.isoformat(), "end": end.isoformat()}
        cached = self.cache.get(key)
        if cached is not None:
            self.counter.cached += 1
            return cached
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "DateInterval": {"StartDate": start.isoformat(), "EndDate": end.isoformat()},
            "MaxResults": 100,
        }
        for _ in range(max_pages):
            page = self._call("GetAnomalies", self.ce.get_anomalies, kwargs)
            found.extend(page.get("Anomalies", []))
            token = page.get("NextPageToken")
            if not token:
                break
            kwargs = {**kwargs, "NextPageToken": token}
        self.cache.put(key, found, OPEN_TTL)
        return found
