"""The cost model and the bundled price table, including the reference design's table.

Prices cited from the bundled table (each rate names its AWS pricing page).

The reference (`shared/reference/DEPLOYMENT_SUMMARY.md`, "100K req/month",
512 MB, 500 ms) claims: API Gateway $0.10, Lambda $1.20, DynamoDB $0.30 at
$1.25/$0.25 per million, CloudWatch Logs $0.20, ECR $0.05, total ~$1.85.
Recomputed with the dated table (no free tier):
- API Gateway HTTP API: 0.1 M x $1.00 = $0.10 (right).
- Lambda x86_64: 100k x 0.5 s x 0.5 GB = 25,000 GB-s x $0.0000166667 = $0.4167
  + 0.1 M x $0.20 = $0.02 -> $0.44, not $1.20 (arm64: $0.35).
- DynamoDB: on-demand writes cost $0.625/M and reads $0.125/M since
  November 2024 (not $1.25/$0.25); one conditional write per request is
  0.1 M WRU = $0.0625; $0.30 is not reachable at 100k requests even at the old
  prices unless each request did ~2.4 writes.
- X-Ray is missing from the table although the gateway traces requests.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from opskit.cost.model import RouteUsage, Usage, allocate_routes, estimate, parse_quantity
from opskit.errors import ConfigError, UsageError
from opskit.pricing import bundled_document, load_prices, parse_table, refreshed_path

REFERENCE = Usage(
    requests=100_000,
    duration_ms=500,
    memory_mb=512,
    arch="x86_64",
    cold_start_rate=0.0,
    request_bytes=1024,
    response_bytes=1024,
)


def item(result, key_prefix: str) -> float:
    return sum(i.cost for i in result.items if i.key.startswith(key_prefix))


def test_every_rate_has_a_source_and_a_date():
    document = bundled_document()
    assert document["region"] == "us-east-1"
    for key, rate in document["rates"].items():
        assert rate["source"].strip(), key
        assert len(rate["as_of"]) == 10 and rate["as_of"][4] == "-", key
        assert rate["tiers"] and all(t["price"] > 0 for t in rate["tiers"]), key
        assert rate["source"].startswith("aws.amazon.com/"), key  # the pricing page, not a blog
    for group in document["free_tier"].values():
        for key, allowance in group.items():
            assert allowance["source"] and allowance["amount"] > 0, key


def test_reference_table_recomputed():
    prices = load_prices()
    result = estimate(REFERENCE, prices, "none")
    assert item(result, "apigw") == pytest.approx(0.10)
    lambda_x86 = item(result, "lambda_")
    assert lambda_x86 == pytest.approx(0.02 + 25_000 * 0.0000166667, abs=1e-6)
    assert round(lambda_x86, 2) == 0.44  # the reference says $1.20
    arm = estimate(replace(REFERENCE, arch="arm64"), prices, "none")
    assert round(item(arm, "lambda_"), 2) == 0.35
    writes = next(i for i in result.items if i.key == "dynamodb_write_units")
    assert writes.cost == pytest.approx(0.1 * 0.625)  # $0.0625, not the old $1.25/M
    assert prices.rate("dynamodb_write_units").first_price == 0.625
    assert prices.rate("dynamodb_read_units").first_price == 0.125
    xray = next(i for i in result.items if i.key == "xray_traces_recorded")
    # 100k requests a month is 0.038 req/s: the 1 req/s reservoir traces every one of them
    assert xray.quantity == pytest.approx(0.1) and xray.cost == pytest.approx(0.1 * 5.0)


def test_lambda_tiers_apply_per_architecture():
    prices = load_prices()
    rate = prices.rate("lambda_gbs_x86_64")
    assert rate.cost(6e9) == pytest.approx(6e9 * 0.0000166667)
    assert rate.cost(7e9) == pytest.approx(6e9 * 0.0000166667 + 1e9 * 0.000015)
    assert rate.cost(16e9) == pytest.approx(
        6e9 * 0.0000166667 + 9e9 * 0.000015 + 1e9 * 0.0000133334
    )
    arm = prices.rate("lambda_gbs_arm64")
    assert arm.cost(8e9) == pytest.approx(7.5e9 * 0.0000133334 + 0.5e9 * 0.0000120001)


def test_init_time_is_billed_on_cold_starts():
    prices = load_prices()
    warm = estimate(replace(REFERENCE, cold_start_rate=0.0), prices)
    cold = estimate(replace(REFERENCE, cold_start_rate=0.1, init_ms=400), prices)
    init_item = next(i for i in cold.items if i.item.startswith("Lambda INIT"))
    # 10k cold starts x 0.4 s x 0.5 GB = 2,000 GB-s
    assert init_item.quantity == pytest.approx(2000)
    assert init_item.cost == pytest.approx(2000 * 0.0000166667)
    assert cold.total - warm.total == pytest.approx(init_item.cost)


def test_api_gateway_meters_in_512_kb_increments():
    prices = load_prices()
    small = estimate(replace(REFERENCE, request_bytes=512 * 1024), prices)
    large = estimate(replace(REFERENCE, request_bytes=512 * 1024 + 1), prices)
    assert item(small, "apigw") == pytest.approx(0.10)
    assert item(large, "apigw") == pytest.approx(0.20)  # 513 KB counts twice
    tiered = prices.rate("apigw_http_requests")
    assert tiered.cost(400) == pytest.approx(300 * 1.0 + 100 * 0.9)


def test_free_tier_always_free_and_credits_and_legacy_is_obsolete():
    prices = load_prices()
    none = estimate(REFERENCE, prices)
    always = estimate(REFERENCE, prices, "always")
    assert item(none, "lambda_") > 0.4
    assert item(always, "lambda_") == 0  # 100k requests and 25k GB-s fit in the always-free tier
    assert item(always, "apigw") == pytest.approx(0.10)  # the 12-month offers are over
    assert next(i for i in always.items if i.key == "cloudwatch_dashboard").cost == 0  # 3 free
    assert always.total < none.total
    # Free plan credits (accounts since 2025-07-15) come off the bill after the always-free offers
    credited = estimate(REFERENCE, prices, "credits", credits=200)
    assert credited.credits == pytest.approx(always.gross) and credited.total == 0
    small = estimate(REFERENCE, prices, "credits", credits=0.25)
    assert small.total == pytest.approx(always.gross - 0.25)
    with pytest.raises(UsageError, match="obsolete"):
        estimate(REFERENCE, prices, "legacy")
    with pytest.raises(UsageError, match="--free-tier credits"):
        estimate(REFERENCE, prices, "always", credits=10)
    with pytest.raises(UsageError):
        estimate(REFERENCE, prices, "new")


def test_per_million_and_routes_allocation():
    prices = load_prices()
    result = estimate(replace(REFERENCE, requests=2_000_000), prices)
    assert result.per_million_requests == pytest.approx(result.total / 2)
    rows = allocate_routes(
        result,
        [
            RouteUsage("/api/users", 1.5e6, 30_000, 1e9),
            RouteUsage("/health/live", 0.5e6, 1000, 1e6),
        ],
    )
    assert [r["route"] for r in rows[:2]] == ["/api/users", "/health/live"]
    assert sum(r["cost_usd"] for r in rows) == pytest.approx(result.total, abs=1e-4)
    assert rows[0]["per_million_usd"] > rows[1]["per_million_usd"]  # more GB-s per request


@pytest.mark.parametrize(
    ("text", "value"),
    [("1M", 1e6), ("250k", 2.5e5), ("1.5B", 1.5e9), ("40", 40.0), ("1_000", 1000.0)],
)
def test_parse_quantity(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize("bad", ["1X", "abc", "-5", "nan", ""])
def test_parse_quantity_rejects(bad):
    with pytest.raises(UsageError):
        parse_quantity(bad, "--requests")


def test_bad_usage_is_rejected():
    with pytest.raises(UsageError, match="architecture"):
        estimate(replace(REFERENCE, arch="arm"), load_prices())
    with pytest.raises(UsageError, match="memory"):
        estimate(replace(REFERENCE, memory_mb=64), load_prices())


def test_other_regions_are_marked_approximate_until_refreshed(tmp_path):
    table = load_prices("eu-west-1", tmp_path)
    assert table.approximate and table.region == "us-east-1"
    notes = " ".join(estimate(REFERENCE, table).notes)
    assert (
        "no complete price table for eu-west-1" in notes
        and "--region eu-west-1 cost prices --refresh" in notes
    )
    path = refreshed_path(tmp_path, "eu-west-1")
    path.parent.mkdir(parents=True)
    rates = {
        k: dict(v, source="test refresh", as_of="2026-11-24")
        for k, v in bundled_document()["rates"].items()
    }
    rates["lambda_requests"]["tiers"] = [{"upto": None, "price": 0.25}]
    path.write_text(json.dumps({"region": "eu-west-1", "as_of": "2026-11-24", "rates": rates}))
    refreshed = load_prices("eu-west-1", tmp_path)
    assert not refreshed.approximate and refreshed.region == "eu-west-1"
    assert refreshed.rate("lambda_requests").first_price == 0.25


def test_a_rate_without_source_is_refused():
    document = bundled_document()
    del document["rates"]["lambda_requests"]["source"]
    with pytest.raises(ConfigError, match="source"):
        parse_table(document, "test")


def test_reference_total_like_for_like():
    """Same scope as the reference row set (no alarms/metrics/dashboards, 0.5 GB ECR): ~$0.73, not ~$1.85."""
    usage = replace(REFERENCE, alarms=0, custom_metrics=0, dashboards=0, ecr_gb=0.5)
    result = estimate(usage, load_prices(), "none")
    by_service = result.by_service()
    assert by_service["API Gateway"] == pytest.approx(0.10)
    assert round(by_service["Lambda"], 2) == 0.44  # reference: $1.20
    assert by_service["DynamoDB"] == pytest.approx(0.0625 + 0.05 * 0.25)  # reference: $0.30
    # reference: $0.20; with the access logs the template enables (610 B a request, flat
    # $0.50/GB): 100k x (600 + 610) B = 0.1127 GB -> $0.056 + storage
    assert by_service["CloudWatch"] < 0.065
    assert by_service["ECR"] == pytest.approx(0.05)
    assert by_service["X-Ray"] == pytest.approx(0.50)  # missing from the reference: every request
    assert 1.15 < result.total < 1.25


# --- hand-computed scenarios (issue 14), prices from the AWS pricing pages the table cites ------

MONTH_S = 730 * 3600  # 2,628,000 s


def line(result, key):
    return next(i for i in result.items if i.key == key)


def test_xray_reservoir_at_1m_and_10m_requests():
    """aws.amazon.com/xray/pricing: $5.00 per 1M traces recorded; default rule 1/s + 5 %."""
    prices = load_prices()
    one = line(estimate(replace(REFERENCE, requests=1e6), prices), "xray_traces_recorded")
    # 1M / 2,628,000 s = 0.3805 req/s < 1: all traced -> 1M x $5/M = $5.00 (a flat 5 %: $0.25)
    assert one.quantity == pytest.approx(1.0) and one.cost == pytest.approx(5.00)
    ten = line(estimate(replace(REFERENCE, requests=10e6), prices), "xray_traces_recorded")
    rate = 10e6 / MONTH_S  # 3.805 req/s
    traced = MONTH_S * (1 + 0.05 * (rate - 1))  # 2,628,000 x 1.1403 = 2,996,800
    assert ten.quantity == pytest.approx(traced / 1e6)
    assert ten.cost == pytest.approx(traced / 1e6 * 5.0) and 14.9 < ten.cost < 15.1
    flat = estimate(replace(REFERENCE, requests=10e6, xray_sampling=0.05), prices)
    assert line(flat, "xray_traces_recorded").cost == pytest.approx(2.50)  # only when asked
    measured = estimate(replace(REFERENCE, requests=10e6, xray_traces=123_456), prices)
    assert line(measured, "xray_traces_recorded").cost == pytest.approx(0.123456 * 5.0)


def test_access_logs_are_flat_and_only_lambda_logs_take_the_tiers():
    """aws.amazon.com/cloudwatch/pricing: Lambda (vended) logs $0.50/GB first 10 TB, $0.25 next
    20 TB...; other logs (API Gateway access logs) $0.50/GB flat."""
    prices = load_prices()
    gb = 1024**3
    # 20 TB of each a month: 20,480 GB
    requests = 1e9
    usage = replace(REFERENCE, requests=requests, log_bytes=20480 * gb / requests)
    usage = replace(usage, access_log_bytes=20480 * gb / requests)
    result = estimate(usage, prices)
    assert line(result, "logs_ingestion_lambda").cost == pytest.approx(10240 * 0.50 + 10240 * 0.25)
    assert line(result, "logs_ingestion").cost == pytest.approx(20480 * 0.50)  # no tiers
    # requests API Gateway rejected before Lambda still write an access line
    rejected = estimate(replace(REFERENCE, apigw_rejected=50_000), prices)
    assert line(rejected, "apigw_http_requests").quantity == pytest.approx(0.15)
    assert line(rejected, "lambda_requests").quantity == pytest.approx(0.1)
    assert line(rejected, "logs_ingestion").quantity == pytest.approx(150_000 * 610 / gb)


def test_infrequent_access_class_halves_ingestion_and_says_what_it_loses():
    """aws.amazon.com/cloudwatch/pricing: Infrequent Access $0.25/GB (Lambda IA tiers from $0.25)."""
    prices = load_prices()
    usage = replace(REFERENCE, requests=1e6, log_bytes=1000, access_log_bytes=340)
    standard = estimate(usage, prices)
    ia = estimate(replace(usage, log_class="infrequent-access"), prices)
    gb = 1024**3
    assert line(ia, "logs_ingestion_lambda_ia").cost == pytest.approx(1e6 * 1000 / gb * 0.25)
    assert line(ia, "logs_ingestion_ia").cost == pytest.approx(1e6 * 340 / gb * 0.25)
    assert line(standard, "logs_ingestion").cost == pytest.approx(1e6 * 340 / gb * 0.50)
    assert any("no metric filters" in n for n in ia.notes)
    with pytest.raises(UsageError, match="log class"):
        estimate(replace(usage, log_class="glacier"), prices)


def test_logs_storage_divides_by_the_average_month():
    prices = load_prices()
    usage = replace(REFERENCE, requests=1e6, log_retention_days=30)
    storage = line(estimate(usage, prices), "logs_storage")
    gb = 1024**3
    ingest = 1e6 * (600 + 610) / gb
    assert storage.quantity == pytest.approx(ingest * 30 / 30.4375)  # not x 30 / 30
    assert storage.cost == pytest.approx(ingest * 30 / 30.4375 * 0.03)


def test_data_transfer_tiers_above_10_tb():
    """aws.amazon.com/ec2/pricing/on-demand: $0.09 first 10 TB, $0.085 next 40 TB, $0.07 next
    100 TB, $0.05 over 150 TB."""
    rate = load_prices().rate("data_transfer_out")
    assert rate.cost(10240) == pytest.approx(10240 * 0.09)
    assert rate.cost(200 * 1024) == pytest.approx(
        10240 * 0.09 + 40960 * 0.085 + 102400 * 0.07 + 51200 * 0.05
    )


def test_secrets_manager_metric_data_and_alarm_kinds():
    """aws.amazon.com/secrets-manager/pricing: $0.40 a secret-month, $0.05 per 10,000 calls;
    cloudwatch/pricing: GetMetricData $0.01 per 1,000 metrics, composite alarm $0.50,
    anomaly-detection alarm = 3 metrics x $0.10."""
    prices = load_prices()
    usage = replace(
        REFERENCE,
        requests=1e6,
        cold_start_rate=0.01,
        secrets=1,
        metric_data_requested=30 * 24 * 60 * 12,  # top --watch: 12 metrics a minute all month
        composite_alarms=2,
        anomaly_alarms=1,
    )
    result = estimate(usage, prices)
    assert line(result, "secretsmanager_secret").cost == pytest.approx(0.40)
    # one GetSecretValue per cold start: 1M x 1 % = 10,000 calls = $0.05
    assert line(result, "secretsmanager_api").cost == pytest.approx(0.05)
    assert line(result, "cloudwatch_get_metric_data").cost == pytest.approx(518_400 / 1000 * 0.01)
    assert line(result, "cloudwatch_composite_alarm").cost == pytest.approx(1.00)
    assert line(result, "cloudwatch_anomaly_alarm").cost == pytest.approx(0.30)


def test_idle_custom_metrics_are_billed_only_for_hours_with_data():
    prices = load_prices()
    busy = line(estimate(replace(REFERENCE, custom_metrics=5), prices), "cloudwatch_custom_metric")
    assert busy.cost == pytest.approx(5 * 0.30)  # 100k requests: every hour has data
    quiet = estimate(replace(REFERENCE, requests=365, custom_metrics=5), prices)
    # 365 requests spread over 730 hours: at most half the hours have data
    assert line(quiet, "cloudwatch_custom_metric").cost == pytest.approx(5 * 0.30 * 365 / 730)


def test_fixed_monthly_and_per_million_are_apart():
    prices = load_prices()
    result = estimate(replace(REFERENCE, requests=2e6), prices)
    fixed = sum(i.cost for i in result.items if i.driver == "fixed")
    assert result.fixed_monthly == pytest.approx(fixed) and fixed > 0
    assert result.variable_per_million == pytest.approx((result.total - fixed) / 2)
    doubled = estimate(replace(REFERENCE, requests=4e6), prices)
    assert doubled.fixed_monthly == pytest.approx(result.fixed_monthly)


def test_access_log_bytes_default_is_the_template_format():
    """The template's access-log format with typical values, + 26 bytes of event overhead."""
    import re
    from pathlib import Path

    template = Path(__file__).parents[3] / "cloudformation" / "gateway.yaml"
    text = template.read_text()
    fmt = re.search(r"Format: >-\n\s+(\{.*\})", text).group(1)
    values = {
        "$context.requestId": "Jx3kZhNmIAMEVxQ=",
        "$context.routeKey": "ANY /api/{proxy+}",
        "$context.status": "200",
        "$context.responseLatency": "45",
        "$context.integrationLatency": "41",
        "$context.integrationErrorMessage": "-",
        "$context.identity.sourceIp": "203.0.113.9",
        "$context.identity.userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "$context.requestTimeEpoch": "1795000000000",
        "$context.httpMethod": "GET",
        "$context.path": "/api/users/42",
        "$context.protocol": "HTTP/1.1",
        "$context.responseLength": "512",
        "$context.integration.status": "200",
        "$context.integration.requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "$context.integration.error": "-",
        "$context.error.message": "-",
        "$context.error.responseType": "-",
    }
    for key in sorted(values, key=len, reverse=True):
        fmt = fmt.replace(key, values[key])
    assert "$context" not in fmt  # every variable of the format has a typical value here
    assert abs(len(fmt) + 26 - Usage().access_log_bytes) <= 30
