"""Cost Explorer reports: moto server (injected results) for GetCostAndUsage, pagination,
cache and request counting; botocore Stubber for what moto does not implement
(GetCostForecast, ListCostAllocationTags, GetAnomalies, error codes), with response
shapes from the AWS Cost Explorer API reference."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import boto3
import pytest
import requests
from botocore.stub import ANY, Stubber

from opskit.config import Environment
from opskit.cost.anomalies import recent_anomalies
from opskit.cost.explorer import CostExplorer, DiskCache, ttl_for
from opskit.cost.periods import month_period
from opskit.cost.report import ReportRequest, build_report, scope_filter
from opskit.errors import AwsError, UsageError

TODAY = date(2026, 11, 24)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def env(tmp_path) -> Environment:
    return Environment(
        name="dev", stack_name="opskit-dev", region="us-east-1", project="opskit", root=tmp_path
    )


def day_result(day: date, groups: dict[str, float], estimated: bool = False) -> dict:
    return {
        "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
        "Total": {},
        "Groups": [
            {"Keys": [k], "Metrics": {"UnblendedCost": {"Amount": f"{v:.10f}", "Unit": "USD"}}}
            for k, v in groups.items()
        ],
        "Estimated": estimated,
    }


def days(start: date, n: int, groups: dict[str, float]) -> list[dict]:
    return [day_result(start + timedelta(days=i), groups) for i in range(n)]


def inject(moto: str, *results: dict) -> None:
    response = requests.post(
        f"{moto}/moto-api/static/ce/cost-and-usage-results",
        json={"results": list(results)},
        timeout=10,
    )
    assert response.status_code == 201


def explorer_for(client, tmp_path, clock) -> CostExplorer:
    return CostExplorer(client, DiskCache(tmp_path / "cache", clock), clock().date())


def test_closed_month_report_paginates_caches_and_counts(moto, clients, tmp_path):
    october = days(date(2026, 10, 1), 31, {"AWS Lambda": 1.0, "Amazon DynamoDB": 0.25})
    september = days(date(2026, 9, 1), 30, {"AWS Lambda": 0.5, "Amazon API Gateway": 0.1})
    inject(
        moto,
        {"ResultsByTime": october[:15], "NextPageToken": "page-2"},
        {"ResultsByTime": october[15:]},
        {"ResultsByTime": september},
    )
    clock = Clock(datetime(2026, 11, 24, 12, tzinfo=UTC))
    explorer = explorer_for(clients.client("ce"), tmp_path, clock)
    report = build_report(
        explorer, env(tmp_path), ReportRequest(month_period("2026-10"), all_account=True), TODAY
    )
    assert explorer.counter.requests == 3 and explorer.counter.cost_usd == pytest.approx(0.03)
    rows = {r["group"]: r for r in report.rows}
    assert rows["AWS Lambda"]["cost_usd"] == pytest.approx(31.0)
    assert rows["AWS Lambda"]["previous_usd"] == pytest.approx(15.0)
    assert rows["AWS Lambda"]["delta_usd"] == pytest.approx(16.0)
    assert rows["AWS Lambda"]["delta_pct"] == pytest.approx(106.7)
    assert (
        rows["Amazon API Gateway"]["cost_usd"] == 0
        and rows["Amazon API Gateway"]["delta_pct"] == -100.0
    )
    assert rows["Amazon DynamoDB"]["delta_pct"] is None  # nothing to compare with
    assert report.total == pytest.approx(31 * 1.25)
    assert [d for d, _ in report.daily][0] == date(2026, 10, 1) and report.daily[-1][0] == date(
        2026, 10, 31
    )
    assert len(report.daily) == 31 and all(v == pytest.approx(1.25) for _, v in report.daily)
    assert not report.estimated and report.forecast is None
    # The same day: both months from the cache, 0 paid requests.
    clock.now += timedelta(hours=2)
    again = explorer_for(clients.client("ce"), tmp_path, clock)
    same = build_report(
        again, env(tmp_path), ReportRequest(month_period("2026-10"), all_account=True), TODAY
    )
    assert again.counter.requests == 0 and again.counter.cached == 2
    assert same.rows == report.rows
    # Two days later: October closed only 25 days ago, so a late refund or a tag backfill may
    # still change it: asked again (daily). September (closed 55 days ago) is final: cached.
    clock.now += timedelta(days=2)
    inject(moto, {"ResultsByTime": october[15:]})  # moto replays page 1 for the same request
    later = explorer_for(clients.client("ce"), tmp_path, clock)
    build_report(
        later, env(tmp_path), ReportRequest(month_period("2026-10"), all_account=True), TODAY
    )
    assert later.counter.by_operation == {"GetCostAndUsage": 2}  # October's two pages again
    assert later.counter.cached == 1  # September


def test_open_ranges_expire_from_the_cache(tmp_path):
    clock = Clock(datetime(2026, 11, 24, 12, tzinfo=UTC))
    cache = DiskCache(tmp_path, clock)
    cache.put({"q": 1}, {"v": 1}, ttl_for(date(2026, 11, 25), TODAY))  # open: 6 h
    cache.put({"q": 2}, {"v": 2}, ttl_for(date(2026, 10, 1), TODAY))  # ended 54 days ago: final
    cache.put({"q": 3}, {"v": 3}, ttl_for(date(2026, 11, 1), TODAY))  # ended 23 days ago: 1 day
    clock.now += timedelta(hours=5)
    assert cache.get({"q": 1}) == {"v": 1}
    clock.now += timedelta(hours=2)
    assert cache.get({"q": 1}) is None
    assert cache.get({"q": 2}) == {"v": 2}
    assert cache.get({"q": 3}) == {"v": 3}
    clock.now += timedelta(hours=18)
    assert cache.get({"q": 3}) is None  # re-validated daily until final
    assert cache.get({"q": 2}) == {"v": 2}


def stubbed_ce():
    client = boto3.client("ce", region_name="us-east-1")
    return client, Stubber(client)


def typed_day(day: date, groups: dict[tuple[str, str], float], estimated: bool = False) -> dict:
    """A GetCostAndUsage day grouped by SERVICE and RECORD_TYPE (API reference shape)."""
    return {
        "TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
        "Total": {},
        "Groups": [
            {"Keys": list(k), "Metrics": {"UnblendedCost": {"Amount": f"{v:.10f}", "Unit": "USD"}}}
            for k, v in groups.items()
        ],
        "Estimated": estimated,
    }


def tags_active(stub) -> None:
    stub.add_response(
        "list_cost_allocation_tags",
        {
            "CostAllocationTags": [
                {"TagKey": "Environment", "Type": "UserDefined", "Status": "Active"},
                {"TagKey": "Project", "Type": "UserDefined", "Status": "Active"},
            ]
        },
        {"TagKeys": ["Environment", "Project"]},
    )


BY_SERVICE_AND_TYPE = [
    {"Type": "DIMENSION", "Key": "SERVICE"},
    {"Type": "DIMENSION", "Key": "RECORD_TYPE"},
]


def test_current_month_is_estimated_with_a_forecast_and_scoped_to_tags(tmp_path):
    """Month to date (24 days) against the same 24 days of October, usage apart from a credit
    and tax: 24 x $2 usage - $5 credit + $1 tax = $44 net; October's 24 days: $24."""
    ce, stub = stubbed_ce()
    e = env(tmp_path)
    tags_active(stub)
    november = [
        typed_day(date(2026, 11, 1) + timedelta(days=i), {("AWS Lambda", "Usage"): 2.0}, True)
        for i in range(24)
    ]
    november[0]["Groups"] += typed_day(
        date(2026, 11, 1), {("AWS Lambda", "Credit"): -5.0, ("Tax", "Tax"): 1.0}
    )["Groups"]
    stub.add_response(
        "get_cost_and_usage",
        {"ResultsByTime": november, "DimensionValueAttributes": []},
        {
            "TimePeriod": {"Start": "2026-11-01", "End": "2026-11-25"},
            "Granularity": "DAILY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": BY_SERVICE_AND_TYPE,
            "Filter": scope_filter(e),
        },
    )
    october = [
        typed_day(date(2026, 10, 1) + timedelta(days=i), {("AWS Lambda", "Usage"): 1.0})
        for i in range(24)
    ]
    stub.add_response(
        "get_cost_and_usage",
        {"ResultsByTime": october},
        {
            "TimePeriod": {"Start": "2026-10-01", "End": "2026-10-25"},  # like for like
            "Granularity": "DAILY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": BY_SERVICE_AND_TYPE,
            "Filter": ANY,
        },
    )
    stub.add_response(
        "get_cost_forecast",
        {
            "Total": {"Amount": "14.0", "Unit": "USD"},
            "ForecastResultsByTime": [
                {
                    "TimePeriod": {"Start": "2026-11-24", "End": "2026-12-01"},
                    "MeanValue": "14.0",
                    "PredictionIntervalLowerBound": "10.0",
                    "PredictionIntervalUpperBound": "18.0",
                }
            ],
        },
        {
            "TimePeriod": {"Start": "2026-11-24", "End": "2026-12-01"},
            "Metric": "UNBLENDED_COST",
            "Granularity": "MONTHLY",
            "PredictionIntervalLevel": 80,
            "Filter": scope_filter(e),
        },
    )
    clock = Clock(datetime(2026, 11, 24, 9, tzinfo=UTC))
    with stub:
        explorer = explorer_for(ce, tmp_path, clock)
        report = build_report(explorer, e, ReportRequest(month_period("2026-11")), TODAY)
    stub.assert_no_pending_responses()
    assert report.estimated
    assert report.kinds == {"usage": 48.0, "credits": -5.0, "tax": 1.0}
    assert report.total == pytest.approx(44.0) and report.previous_total == pytest.approx(24.0)
    lambda_row = next(r for r in report.rows if r["group"] == "AWS Lambda")
    assert (lambda_row["cost_usd"], lambda_row["previous_usd"]) == (48.0, 24.0)
    assert lambda_row["delta_pct"] == 100.0  # usage rose; netting the credit would hide it
    kinds = [r["kind"] for r in report.table_rows()]
    assert kinds == ["usage", "credits", "tax", "total"]
    assert report.forecast == {
        "month_to_date_usd": 44.0,
        "remaining_usd": 14.0,
        "month_end_usd": 58.0,
        "month_end_low_usd": 54.0,
        "month_end_high_usd": 62.0,
    }
    assert explorer.counter.requests == 4
    assert report.to_dict()["scope"] == {"Project": "opskit", "Environment": "dev"}


def test_inactive_cost_allocation_tag_is_a_clear_error(tmp_path):
    ce, stub = stubbed_ce()
    stub.add_response(
        "list_cost_allocation_tags",
        {
            "CostAllocationTags": [
                {"TagKey": "Project", "Type": "UserDefined", "Status": "Active"},
                {"TagKey": "Environment", "Type": "UserDefined", "Status": "Inactive"},
            ]
        },
    )
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    with stub, pytest.raises(AwsError) as info:
        build_report(
            explorer_for(ce, tmp_path, clock),
            env(tmp_path),
            ReportRequest(month_period("2026-10")),
            TODAY,
        )
    message = info.value.format_message()
    assert "Environment is not an active cost allocation tag" in message
    assert "update-cost-allocation-tags-status" in message and "--all-account" in message


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (
            "AccessDeniedException",
            "User not enabled for cost explorer access",
            "Cost Explorer is not enabled",
        ),
        ("DataUnavailableException", "Data is not available", "no data"),
        (
            "AccessDeniedException",
            "User: arn:aws:iam::1:user/x is not authorized",
            "ce:GetCostAndUsage",
        ),
        ("BillExpirationException", "too old", "cannot go that far back"),
    ],
)
def test_known_cost_explorer_failures(tmp_path, code, message, expected):
    ce, stub = stubbed_ce()
    stub.add_client_error(
        "get_cost_and_usage", service_error_code=code, service_message=message, http_status_code=400
    )
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    with stub, pytest.raises(AwsError) as info:
        build_report(
            explorer_for(ce, tmp_path, clock),
            env(tmp_path),
            ReportRequest(month_period("2026-10"), all_account=True),
            TODAY,
        )
    assert expected in info.value.format_message()


def test_group_by_validation_and_tag_groups(moto, clients, tmp_path):
    with pytest.raises(UsageError, match="at most two"):
        build_report(
            None,
            env(tmp_path),
            ReportRequest(
                month_period("2026-10"),
                group_by=("service", "region", "usage-type"),
                all_account=True,
            ),
            TODAY,
        )
    with pytest.raises(UsageError, match="bad --group-by"):
        build_report(
            None,
            env(tmp_path),
            ReportRequest(month_period("2026-10"), group_by=("color",), all_account=True),
            TODAY,
        )
    with pytest.raises(UsageError, match="future"):
        build_report(
            None, env(tmp_path), ReportRequest(month_period("2027-01"), all_account=True), TODAY
        )


def test_tag_group_labels_strip_the_key(tmp_path):
    ce, stub = stubbed_ce()
    stub.add_response(
        "list_cost_allocation_tags",
        {
            "CostAllocationTags": [
                {"TagKey": "Environment", "Type": "UserDefined", "Status": "Active"}
            ]
        },
    )
    result = {
        "TimePeriod": {"Start": "2026-10-01", "End": "2026-10-02"},
        "Groups": [
            {
                "Keys": ["AWS Lambda", "Environment$prod"],
                "Metrics": {"UnblendedCost": {"Amount": "3", "Unit": "USD"}},
            },
            {
                "Keys": ["AWS Lambda", "Environment$"],
                "Metrics": {"UnblendedCost": {"Amount": "1", "Unit": "USD"}},
            },
        ],
        "Estimated": False,
    }
    stub.add_response("get_cost_and_usage", {"ResultsByTime": [result]})
    stub.add_response("get_cost_and_usage", {"ResultsByTime": []})
    # two --group-by leave no room for RECORD_TYPE: one request for the record types of both
    by_type = {
        "TimePeriod": {"Start": "2026-10-01", "End": "2026-10-02"},
        "Groups": [
            {"Keys": ["Usage"], "Metrics": {"UnblendedCost": {"Amount": "4", "Unit": "USD"}}},
            {"Keys": ["Refund"], "Metrics": {"UnblendedCost": {"Amount": "-2", "Unit": "USD"}}},
        ],
    }
    stub.add_response(
        "get_cost_and_usage",
        {"ResultsByTime": [by_type]},
        {
            "TimePeriod": {"Start": "2026-09-01", "End": "2026-11-01"},
            "Granularity": "DAILY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": [{"Type": "DIMENSION", "Key": "RECORD_TYPE"}],
        },
    )
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    with stub:
        report = build_report(
            explorer_for(ce, tmp_path, clock),
            env(tmp_path),
            ReportRequest(
                month_period("2026-10"), group_by=("service", "tag:Environment"), all_account=True
            ),
            TODAY,
        )
    assert [r["group"] for r in report.rows] == [
        "AWS Lambda / prod",
        "AWS Lambda / (no Environment)",
    ]
    assert report.kinds == {"usage": 4.0, "refunds": -2.0} and report.total == 2.0


def test_anomalies_paginated_with_impact_and_root_causes(tmp_path):
    ce, stub = stubbed_ce()

    def anomaly(i: int, impact: float) -> dict:
        return {
            "AnomalyId": f"a{i}",
            "AnomalyStartDate": "2026-11-10T00:00:00Z",
            "AnomalyEndDate": "2026-11-11T00:00:00Z",
            "DimensionValue": "AWS Lambda",
            "RootCauses": [
                {
                    "Service": "AWS Lambda",
                    "Region": "us-east-1",
                    "UsageType": "USE1-Lambda-GB-Second",
                    "LinkedAccount": "123456789012",
                }
            ],
            "AnomalyScore": {"MaxScore": 0.9, "CurrentScore": 0.5},
            "Impact": {
                "MaxImpact": impact,
                "TotalImpact": impact,
                "TotalActualSpend": impact + 1,
                "TotalExpectedSpend": 1.0,
                "TotalImpactPercentage": impact * 100,
            },
            "MonitorArn": "arn:aws:ce::123456789012:anomalymonitor/m",
        }

    stub.add_response(
        "get_anomalies",
        {"Anomalies": [anomaly(1, 5.0)], "NextPageToken": "t"},
        {"DateInterval": {"StartDate": "2026-10-25", "EndDate": "2026-11-24"}, "MaxResults": 100},
    )
    stub.add_response(
        "get_anomalies",
        {"Anomalies": [anomaly(2, 40.0)]},
        {"DateInterval": ANY, "MaxResults": 100, "NextPageToken": "t"},
    )
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    with stub:
        explorer = explorer_for(ce, tmp_path, clock)
        rows = recent_anomalies(explorer, TODAY, 30)
    assert [r["id"] for r in rows] == ["a2", "a1"]  # biggest impact first
    assert rows[0]["impact_usd"] == 40.0
    assert (
        rows[0]["root_causes"]
        == "AWS Lambda / USE1-Lambda-GB-Second / us-east-1 / account 123456789012"
    )
    assert explorer.counter.requests == 2


# --- issue 14: account-keyed cache, forecast failures, periods, counting, credits -------------


def oct_day_stub(stub, amount: float, account_note: str = "") -> None:
    stub.add_response(
        "get_cost_and_usage",
        {"ResultsByTime": [typed_day(date(2026, 10, 1), {("AWS Lambda", "Usage"): amount})]},
    )
    stub.add_response("get_cost_and_usage", {"ResultsByTime": []})


def test_the_cache_is_per_account_not_per_endpoint(tmp_path):
    """Reproduces the review: the same endpoint and environment with other credentials showed
    the first account's cached numbers (111 shown where 999 was true)."""
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    cache = DiskCache(tmp_path / "cache", clock)
    request = ReportRequest(month_period("2026-10"), all_account=True)
    first, stub1 = stubbed_ce()
    oct_day_stub(stub1, 111.0)
    with stub1:
        a = build_report(
            CostExplorer(first, cache, TODAY, account_id="111111111111"),
            env(tmp_path),
            request,
            TODAY,
        )
    second, stub2 = stubbed_ce()
    oct_day_stub(stub2, 999.0)
    with stub2:
        other = CostExplorer(second, cache, TODAY, account_id="999999999999")
        b = build_report(other, env(tmp_path), request, TODAY)
    stub2.assert_no_pending_responses()  # asked Cost Explorer again: another account
    assert (a.total, b.total) == (111.0, 999.0) and other.counter.requests == 2
    again, stub3 = stubbed_ce()
    with stub3:  # the first account again: its own cache, no request
        warm = CostExplorer(again, cache, TODAY, account_id="111111111111")
        assert build_report(warm, env(tmp_path), request, TODAY).total == 111.0
    assert warm.counter.requests == 0 and warm.counter.cached == 2


def test_the_account_id_is_cached_per_credentials(tmp_path):
    from opskit.cost.account import account_id, credentials_key
    from tests.opskit.cost.test_cli import FakeSession, stubbed_sts

    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    cache = DiskCache(tmp_path, clock)
    key_a = credentials_key(FakeSession("AKIAAAAAAAAAAAAAAAAA"), None)
    key_b = credentials_key(FakeSession("AKIABBBBBBBBBBBBBBBB"), None)
    assert key_a != key_b and "AKIA" not in key_a  # the access key id is hashed
    assert account_id(stubbed_sts("111111111111"), cache, key_a) == "111111111111"
    exhausted = stubbed_sts("999999999999")
    exhausted.get_caller_identity()  # use up its one stubbed answer
    assert account_id(exhausted, cache, key_a) == "111111111111"  # cached: STS not asked
    assert account_id(stubbed_sts("999999999999"), cache, key_b) == "999999999999"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "AccessDeniedException",
            "User: arn:aws:iam::1:user/x is not authorized to perform: ce:GetCostForecast",
        ),
        ("DataUnavailableException", "Insufficient amount of historical data"),
        ("InternalServerError", "oops"),
    ],
)
def test_a_failed_forecast_degrades_to_a_note(tmp_path, code, message):
    ce, stub = stubbed_ce()
    november = [
        typed_day(date(2026, 11, 1) + timedelta(days=i), {("AWS Lambda", "Usage"): 1.0})
        for i in range(24)
    ]
    stub.add_response("get_cost_and_usage", {"ResultsByTime": november})
    stub.add_response("get_cost_and_usage", {"ResultsByTime": []})
    stub.add_client_error(
        "get_cost_forecast", service_error_code=code, service_message=message, http_status_code=400
    )
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    with stub:
        explorer = explorer_for(ce, tmp_path, clock)
        report = build_report(
            explorer, env(tmp_path), ReportRequest(month_period("2026-11"), all_account=True), TODAY
        )
    assert report.total == 24.0 and report.forecast is None
    assert any(n.startswith("no forecast:") for n in report.notes)
    if code == "AccessDeniedException":
        assert any("grant ce:GetCostForecast" in n for n in report.notes)
    # the failed call is not a paid request
    assert explorer.counter.requests == 2 and explorer.counter.failed == 1


def test_month_to_date_on_the_1st_is_compared_with_one_day_not_the_whole_month(tmp_path):
    """The review saw -98.7 % on the 1st: one day against 31. Like for like: the 1st with the 1st."""
    first_of_month = date(2026, 11, 1)
    ce, stub = stubbed_ce()
    stub.add_response(
        "get_cost_and_usage",
        {"ResultsByTime": [typed_day(first_of_month, {("AWS Lambda", "Usage"): 1.3}, True)]},
        {
            "TimePeriod": {"Start": "2026-11-01", "End": "2026-11-02"},
            "Granularity": "DAILY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": ANY,
        },
    )
    stub.add_response(
        "get_cost_and_usage",
        {"ResultsByTime": [typed_day(date(2026, 10, 1), {("AWS Lambda", "Usage"): 1.0})]},
        {
            "TimePeriod": {"Start": "2026-10-01", "End": "2026-10-02"},
            "Granularity": "DAILY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": ANY,
        },
    )
    stub.add_client_error("get_cost_forecast", service_error_code="DataUnavailableException")
    clock = Clock(datetime(2026, 11, 1, 8, tzinfo=UTC))
    with stub:
        report = build_report(
            explorer_for(ce, tmp_path, clock),
            env(tmp_path),
            ReportRequest(month_period("2026-11"), all_account=True),
            first_of_month,
        )
    row = next(r for r in report.rows if r["group"] == "AWS Lambda")
    assert row["delta_pct"] == 30.0  # (1.3 - 1.0) / 1.0, not (1.3 - 31) / 31
    assert report.to_dict()["comparison"].startswith("like-for-like")
    assert report.previous_full == month_period("2026-10")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"month": ""},
        {"month": "2026-13"},
        {"days": 0},
        {"days": 100000},
        {"month": "2027-01"},  # in the future
        {"since": "2026-12-01"},
        {"month": "2020-01"},  # older than Cost Explorer keeps
    ],
)
def test_bad_periods_are_refused_before_any_paid_request(tmp_path, kwargs):
    from opskit.cost.periods import choose_period
    from opskit.cost.report import validate_request

    ce, stub = stubbed_ce()  # no responses: any call would fail the test
    with stub, pytest.raises(UsageError):
        period = choose_period(TODAY, **kwargs)
        validate_request(ReportRequest(period), TODAY)
        build_report(
            explorer_for(ce, tmp_path, Clock(datetime(2026, 11, 24, tzinfo=UTC))),
            env(tmp_path),
            ReportRequest(period),
            TODAY,
        )


def test_exclude_credits_leaves_credits_and_refunds_out_of_totals_and_forecast(tmp_path):
    ce, stub = stubbed_ce()
    november = [
        typed_day(
            date(2026, 11, 1),
            {
                ("AWS Lambda", "Usage"): 10.0,
                ("AWS Lambda", "Credit"): -10.0,
                ("AWS Lambda", "Refund"): -1.0,
                ("Tax", "Tax"): 0.5,
            },
            True,
        )
    ]
    stub.add_response("get_cost_and_usage", {"ResultsByTime": november})
    stub.add_response("get_cost_and_usage", {"ResultsByTime": []})
    forecast_filter = {
        "Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit", "Refund"]}}
    }
    stub.add_response(
        "get_cost_forecast",
        {"Total": {"Amount": "20", "Unit": "USD"}, "ForecastResultsByTime": []},
        {
            "TimePeriod": ANY,
            "Metric": "UNBLENDED_COST",
            "Granularity": "MONTHLY",
            "PredictionIntervalLevel": 80,
            "Filter": forecast_filter,
        },
    )
    clock = Clock(datetime(2026, 11, 24, tzinfo=UTC))
    with stub:
        report = build_report(
            explorer_for(ce, tmp_path, clock),
            env(tmp_path),
            ReportRequest(month_period("2026-11"), all_account=True, exclude_credits=True),
            TODAY,
        )
    assert report.kinds == {"usage": 10.0, "credits": -10.0, "refunds": -1.0, "tax": 0.5}
    assert report.total == 10.5  # usage + tax; netted it would be -0.5
    assert report.forecast["month_end_usd"] == 30.5
    labels = [r["group"] for r in report.table_rows()]
    assert "(credits, excluded)" in labels and "(refunds, excluded)" in labels and "(tax)" in labels


def test_a_denied_call_names_its_own_action_and_is_not_counted(tmp_path):
    ce, stub = stubbed_ce()
    stub.add_client_error(
        "get_cost_and_usage",
        service_error_code="AccessDeniedException",
        service_message="not authorized",
    )
    with stub, pytest.raises(AwsError) as info:
        explorer = explorer_for(ce, tmp_path, Clock(datetime(2026, 11, 24, tzinfo=UTC)))
        build_report(
            explorer, env(tmp_path), ReportRequest(month_period("2026-10"), all_account=True), TODAY
        )
    assert "grant ce:GetCostAndUsage to this identity" in info.value.format_message()
    assert "GetCostForecast" not in info.value.format_message()
    assert explorer.counter.requests == 0 and explorer.counter.failed == 1


def test_pagination_across_pages_keeps_record_types(tmp_path):
    ce, stub = stubbed_ce()
    page1 = [typed_day(date(2026, 10, 1), {("AWS Lambda", "Usage"): 2.0})]
    page2 = [
        typed_day(
            date(2026, 10, 2), {("AWS Lambda", "Credit"): -1.0, ("Amazon DynamoDB", "Usage"): 1.0}
        )
    ]
    stub.add_response("get_cost_and_usage", {"ResultsByTime": page1, "NextPageToken": "t2"})
    stub.add_response(
        "get_cost_and_usage",
        {"ResultsByTime": page2},
        {
            "TimePeriod": ANY,
            "Granularity": "DAILY",
            "Metrics": ANY,
            "GroupBy": ANY,
            "NextPageToken": "t2",
        },
    )
    stub.add_response("get_cost_and_usage", {"ResultsByTime": []})
    with stub:
        explorer = explorer_for(ce, tmp_path, Clock(datetime(2026, 11, 24, tzinfo=UTC)))
        report = build_report(
            explorer, env(tmp_path), ReportRequest(month_period("2026-10"), all_account=True), TODAY
        )
    assert report.kinds == {"usage": 3.0, "credits": -1.0} and report.total == 2.0
    assert explorer.counter.requests == 3
