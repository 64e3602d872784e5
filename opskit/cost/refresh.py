"""`opskit cost prices --refresh`: current rates from the Price List API, diffed with the table in use.

The `pricing` client answers in us-east-1 (ClientFactory pins it) for every
region; products are filtered by `regionCode`. Each rate below names the
service code, attribute filters and a `usagetype` suffix that identify it.
Zero-priced tiers are free-tier allowances: dropped here, modelled by --free-tier.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opskit.aws import aws_error
from opskit.pricing import PriceTable, refreshed_path

if TYPE_CHECKING:
    from mypy_boto3_pricing import PricingClient


@dataclass(frozen=True)
class RateSpec:
    key: str
    service_code: str
    filters: dict[str, str]
    usagetype_suffixes: tuple[str, ...] = ()
    factor: float = 1.0  # our unit / the Price List unit (1e6 for "per million")


SPECS = (
    RateSpec("lambda_requests", "AWSLambda", {"group": "AWS-Lambda-Requests"}, factor=1e6),
    RateSpec("lambda_gbs_x86_64", "AWSLambda", {"group": "AWS-Lambda-Duration"}),
    RateSpec("lambda_gbs_arm64", "AWSLambda", {"group": "AWS-Lambda-Duration-ARM"}),
    RateSpec("apigw_http_requests", "AmazonApiGateway", {}, ("ApiGatewayHttpRequest",), factor=1e6),
    RateSpec("dynamodb_write_units", "AmazonDynamoDB", {"group": "DDB-WriteUnits"}, factor=1e6),
    RateSpec("dynamodb_read_units", "AmazonDynamoDB", {"group": "DDB-ReadUnits"}, factor=1e6),
    RateSpec(
        "dynamodb_storage",
        "AmazonDynamoDB",
        {"productFamily": "Database Storage"},
        ("TimedStorage-ByteHrs",),
    ),
    RateSpec("logs_ingestion", "AmazonCloudWatch", {}, ("DataProcessing-Bytes",)),
    RateSpec("logs_ingestion_lambda", "AmazonCloudWatch", {}, ("VendedLog-Bytes",)),
    RateSpec("logs_storage", "AmazonCloudWatch", {}, ("TimedStorage-ByteHrs",)),
    RateSpec("logs_insights_scanned", "AmazonCloudWatch", {}, ("DataScanned-Bytes",)),
    RateSpec("cloudwatch_alarm", "AmazonCloudWatch", {}, ("CW:AlarmMonitorUsage",)),
    RateSpec("cloudwatch_custom_metric", "AmazonCloudWatch", {}, ("CW:MetricMonitorUsage",)),
    RateSpec("cloudwatch_dashboard", "AmazonCloudWatch", {}, ("DashboardsUsageHour",)),
    RateSpec("xray_traces_recorded", "AWSXRay", {}, ("XRay-TracesStored",), factor=1e6),
    RateSpec("xray_traces_retrieved", "AWSXRay", {}, ("XRay-TracesAccessed",), factor=1e6),
    RateSpec(
        "s3_storage", "AmazonS3", {"storageClass": "General Purpose"}, ("TimedStorage-ByteHrs",)
    ),
    RateSpec("ecr_storage", "AmazonECR", {}, ("TimedStorage-ByteHrs",)),
)


def _tiers(product: dict[str, Any], factor: float) -> list[dict[str, Any]]:
    dimensions: list[tuple[float, float | None, float]] = []
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dim in term.get("priceDimensions", {}).values():
            price = float(dim.get("pricePerUnit", {}).get("USD", "0") or 0)
            begin = float(dim.get("beginRange", "0") or 0)
            end_raw = dim.get("endRange", "Inf")
            end = None if end_raw in ("Inf", "", None) else float(end_raw)
            dimensions.append((begin, end, price))
    dimensions.sort(key=lambda d: d[0])
    return [
        {"upto": None if end is None else end / factor, "price": round(price * factor, 10)}
        for _, end, price in dimensions
        if price > 0
    ]


def _matches(product: dict[str, Any], spec: RateSpec, suffix: str | None) -> bool:
    attributes = product.get("product", {}).get("attributes", {})
    if suffix is None:
        return True
    return str(attributes.get("usagetype", "")).endswith(suffix)


def fetch_rate(
    pricing: PricingClient, spec: RateSpec, region: str
) -> tuple[list[dict[str, Any]], str] | None:
    filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
    filters += [
        {"Type": "TERM_MATCH", "Field": field, "Value": value}
        for field, value in spec.filters.items()
    ]
    products: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "ServiceCode": spec.service_code,
        "Filters": filters,
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    while True:
        try:
            page = pricing.get_products(**kwargs)
        except Exception as exc:
            raise aws_error(
                f"Price List GetProducts {spec.service_code}",
                exc,
                "grant pricing:GetProducts (answered in us-east-1)",
            ) from None
        products.extend(
            json.loads(item) if isinstance(item, str) else item
            for item in page.get("PriceList", [])
        )
        token = page.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    for suffix in spec.usagetype_suffixes or (None,):
        for product in products:
            if _matches(product, spec, suffix):
                tiers = _tiers(product, spec.factor)
                if tiers:
                    sku = product.get("product", {}).get("sku", "?")
                    return tiers, f"AWS Price List API GetProducts {spec.service_code} sku {sku}"
    return None


def refresh_prices(
    pricing: PricingClient, current: PriceTable, region: str, today: date
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Fetch every rate; returns (the new table document, rows describing what changed)."""
    document = current.to_document()
    document.update(region=region, as_of=today.isoformat())
    fetched: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for spec in SPECS:
        old = current.rates.get(spec.key)
        old_price = old.first_price if old else None
        found = fetch_rate(pricing, spec, region)
        if found is None:
            rows.append(
                {
                    "rate": spec.key,
                    "unit": old.unit if old else "",
                    "old": old_price,
                    "new": None,
                    "change": "not found: kept the current rate",
                }
            )
            continue
        tiers, source = found
        base = document["rates"].get(spec.key, {})
        fetched[spec.key] = {**base, "tiers": tiers, "source": source, "as_of": today.isoformat()}
        new_price = tiers[0]["price"]
        old_tiers = [{"upto": t.upto, "price": t.price} for t in old.tiers] if old else []
        if old_price is None:
            change = "new"
        elif _same_tiers(old_tiers, tiers):
            change = "unchanged"
        elif abs(new_price - old_price) < 1e-12:
            change = "tiers changed"
        else:
            change = f"{(new_price - old_price) / old_price * 100:+.1f}%"
        rows.append(
            {
                "rate": spec.key,
                "unit": old.unit if old else "",
                "old": old_price,
                "new": new_price,
                "change": change,
            }
        )
    refreshed = {
        "region": region,
        "currency": "USD",
        "as_of": today.isoformat(),
        "note": "Fetched from the AWS Price List API; rates not listed fall back to the bundled table.",
        "rates": fetched,
    }
    return refreshed, rows


def _same_tiers(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> bool:
    if len(old) != len(new):
        return False
    for a, b in zip(old, new, strict=True):
        if (a["upto"] is None) != (b["upto"] is None):
            return False
        if a["upto"] is not None and abs(a["upto"] - b["upto"]) > 1e-6 * max(1.0, a["upto"]):
            return False
        if abs(a["price"] - b["price"]) > 1e-12:
            return False
    return True


def save_refreshed(state_dir: Path, region: str, document: dict[str, Any]) -> Path:
    path = refreshed_path(state_dir, region)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    tmp.replace(path)
    return path
