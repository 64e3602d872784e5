"""The cost model and the bundled price table, including the reference design's table.

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
from opskit.errors import ConfigError
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
    assert xray.cost == pytest.approx(100_000 * 0.05 * 5 / 1e6)  # the reference has no X-Ray row


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


def test_free_tier_is_off_by_default_and_legacy_adds_the_12_month_offers():
    prices = load_prices()
    none = estimate(REFERENCE, prices)
    new = estimate(REFERENCE, prices, "new")
    legacy = estimate(REFERENCE, prices, "legacy")
    assert item(none, "lambda_") > 0.4
    assert item(new, "lambda_") == 0  # 100k requests and 25k GB-s fit in the always-free tier
    assert item(new, "apigw") == pytest.approx(0.10)  # 12-month offer: not for new accounts
    assert item(legacy, "apigw") == 0
    assert next(i for i in new.items if i.key == "cloudwatch_dashboard").cost == 0  # 3 free
    assert legacy.total < new.total < none.total
    with pytest.raises(ConfigError):
        estimate(REFERENCE, prices, "always")


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
    with pytest.raises(ConfigError):
        parse_quantity(bad, "--requests")


def test_bad_usage_is_rejected():
    with pytest.raises(ConfigError, match="architecture"):
        estimate(replace(REFERENCE, arch="arm"), load_prices())
    with pytest.raises(ConfigError, match="memory"):
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
    assert by_service["CloudWatch"] < 0.05  # reference: $0.20 (that is ~4 KB of logs per request)
    assert by_service["ECR"] == pytest.approx(0.05)
    assert by_service["X-Ray"] == pytest.approx(0.025)  # missing from the reference
    assert 0.70 < result.total < 0.75
