"""Budget setup and status on the moto server; update_budget and subscriber syncing (not
implemented by moto 5.2) through botocore's Stubber with the AWS Budgets API reference shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import boto3
import pytest
from botocore.config import Config
from botocore.stub import ANY, Stubber

from opskit.budget import (
    Capabilities,
    budget_status,
    make_spec,
    parse_amount,
    parse_threshold,
    setup_budget,
)
from opskit.config import Environment
from opskit.errors import AwsError, NotFoundError, UsageError

ACCOUNT = "123456789012"
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
MOTO = Capabilities.of(
    local=True
)  # moto 5.2: no UpdateBudget, no DescribeSubscribersForNotification


def env(tmp_path) -> Environment:
    return Environment(
        name="dev", stack_name="opskit-dev", region="us-east-1", project="opskit", root=tmp_path
    )


@pytest.fixture
def budgets(moto):
    # No retries: moto answers HTTP 500 for actions it lacks, which would otherwise be retried.
    return boto3.client("budgets", region_name="us-east-1", endpoint_url=moto, config=NO_RETRY)


def yes(question: str) -> bool:
    return True


def no(question: str) -> bool:
    return False


def test_create_is_tag_scoped_with_default_notifications(budgets, clients, tmp_path):
    spec = make_spec(env(tmp_path), Decimal("50"), ("ops@example.com",), None)
    result = setup_budget(budgets, clients.client("sns"), ACCOUNT, spec, yes, MOTO)
    assert result.changed and result.actions[0].startswith("created budget opskit-dev-monthly")
    budget = budgets.describe_budget(AccountId=ACCOUNT, BudgetName="opskit-dev-monthly")["Budget"]
    assert budget["BudgetLimit"] == {"Amount": "50.00", "Unit": "USD"}
    assert budget["Metrics"] == ["UnblendedCost"] and "CostFilters" not in budget
    tags = {t["Tags"]["Key"]: t["Tags"]["Values"] for t in budget["FilterExpression"]["And"]}
    assert tags == {"Environment": ["dev"], "Project": ["opskit"]}
    notes = budgets.describe_notifications_for_budget(
        AccountId=ACCOUNT, BudgetName="opskit-dev-monthly"
    )["Notifications"]
    assert sorted((n["NotificationType"], n["Threshold"]) for n in notes) == [
        ("ACTUAL", 80.0),
        ("ACTUAL", 100.0),
        ("FORECASTED", 100.0),
    ]


def test_rerun_is_idempotent_and_changes_are_applied_without_duplicates(budgets, clients, tmp_path):
    e = env(tmp_path)
    spec = make_spec(e, Decimal("50"), ("ops@example.com",), None)
    setup_budget(budgets, clients.client("sns"), ACCOUNT, spec, yes, MOTO)
    again = setup_budget(budgets, clients.client("sns"), ACCOUNT, spec, yes, MOTO)
    assert not again.changed
    assert any(
        "cannot list budget subscribers" in w for w in again.warnings
    )  # moto lacks the API: said, not hidden
    # New thresholds: one notification removed, one added, others kept.
    changed = make_spec(
        e,
        Decimal("50"),
        ("ops@example.com",),
        None,
        (("ACTUAL", 80.0), ("FORECASTED", 100.0), ("ACTUAL", 120.0)),
    )
    result = setup_budget(budgets, clients.client("sns"), ACCOUNT, changed, yes, MOTO)
    assert (
        "deleted notification ACTUAL > 100%" in result.actions
        and "created notification ACTUAL > 120% -> 1 subscriber(s)" in result.actions
    )
    notes = budgets.describe_notifications_for_budget(
        AccountId=ACCOUNT, BudgetName="opskit-dev-monthly"
    )["Notifications"]
    assert sorted((n["NotificationType"], n["Threshold"]) for n in notes) == [
        ("ACTUAL", 80.0),
        ("ACTUAL", 120.0),
        ("FORECASTED", 100.0),
    ]
    # New amount: moto cannot update_budget, so the budget is deleted and recreated, never duplicated.
    bigger = make_spec(e, Decimal("75"), ("ops@example.com",), None)
    result = setup_budget(budgets, clients.client("sns"), ACCOUNT, bigger, yes, MOTO)
    assert result.actions[0].startswith("deleted budget opskit-dev-monthly (this endpoint")
    assert (
        result.actions[1].startswith("recreated budget")
        and "limit 50.00 -> 75.00 USD" in result.actions[1]
    )
    all_budgets = budgets.describe_budgets(AccountId=ACCOUNT)["Budgets"]
    assert [b["BudgetName"] for b in all_budgets] == ["opskit-dev-monthly"]
    assert all_budgets[0]["BudgetLimit"]["Amount"] == "75.00"
    assert (
        len(
            budgets.describe_notifications_for_budget(
                AccountId=ACCOUNT, BudgetName="opskit-dev-monthly"
            )["Notifications"]
        )
        == 3
    )


def test_sns_policy_is_checked_and_fixed_on_request(budgets, clients, tmp_path):
    sns = clients.client("sns")
    topic = sns.create_topic(Name="budget-alerts")["TopicArn"]
    spec = make_spec(env(tmp_path), Decimal("20"), (), topic)
    declined = setup_budget(budgets, sns, ACCOUNT, spec, no, MOTO)
    assert any(
        "alerts will not arrive" in w and "budgets.amazonaws.com" in w for w in declined.warnings
    )
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    assert not any(
        s.get("Principal", {}).get("Service") == "budgets.amazonaws.com"
        for s in policy["Statement"]
        if isinstance(s.get("Principal"), dict)
    )
    fixed = setup_budget(budgets, sns, ACCOUNT, spec, yes, MOTO)
    assert any(a.startswith("updated SNS policy") for a in fixed.actions)
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    statement = next(s for s in policy["Statement"] if s.get("Sid") == "AllowAWSBudgetsPublish")
    assert (
        statement["Principal"] == {"Service": "budgets.amazonaws.com"}
        and statement["Action"] == "SNS:Publish"
    )
    assert statement["Resource"] == topic
    third = setup_budget(budgets, sns, ACCOUNT, spec, no, MOTO)
    assert any(a.startswith("unchanged SNS policy") for a in third.actions)
    assert not any("alerts will not arrive" in w for w in third.warnings)
    with pytest.raises(NotFoundError, match="not found"):
        setup_budget(
            budgets,
            sns,
            ACCOUNT,
            make_spec(env(tmp_path), Decimal("20"), (), topic + "-missing"),
            yes,
            MOTO,
        )


def test_subscriber_and_input_limits(tmp_path):
    e = env(tmp_path)
    emails = tuple(f"u{i}@example.com" for i in range(11))
    with pytest.raises(UsageError, match="at most 10 per notification"):
        make_spec(e, Decimal("10"), emails, None)
    assert (
        len(make_spec(e, Decimal("10"), emails[:10] + emails[:3], None).emails) == 10
    )  # duplicates collapse
    with pytest.raises(UsageError, match="no one to notify"):
        make_spec(e, Decimal("10"), (), None)
    with pytest.raises(UsageError, match="bad --email"):
        make_spec(e, Decimal("10"), ("nobody",), None)
    with pytest.raises(UsageError, match="bad --amount"):
        parse_amount("-3")
    with pytest.raises(UsageError, match="bad --amount"):
        parse_amount("ten")
    assert parse_threshold("80") == ("ACTUAL", 80.0)
    assert parse_threshold("forecasted:100") == ("FORECASTED", 100.0)
    with pytest.raises(UsageError):
        parse_threshold("weekly:80")


def test_status_on_moto(budgets, clients, tmp_path):
    spec = make_spec(env(tmp_path), Decimal("50"), ("ops@example.com",), None)
    setup_budget(budgets, clients.client("sns"), ACCOUNT, spec, yes, MOTO)
    status = budget_status(
        budgets, clients.client("sts").get_caller_identity()["Account"], "opskit-dev-monthly"
    )
    assert (
        status["limit_usd"] == 50.0 and status["actual_usd"] == 0.0 and status["actual_pct"] == 0.0
    )
    assert [n["state"] for n in status["notifications"]] == ["OK", "OK", "OK"]
    with pytest.raises(NotFoundError, match="budget setup"):
        budget_status(budgets, ACCOUNT, "nope")


def describe_budget_response(amount: str, actual: str = "0", forecast: str = "0") -> dict:
    return {
        "Budget": {
            "BudgetName": "opskit-dev-monthly",
            "BudgetLimit": {"Amount": amount, "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
            "FilterExpression": {
                "And": [
                    {"Tags": {"Key": "Environment", "Values": ["dev"], "MatchOptions": ["EQUALS"]}},
                    {"Tags": {"Key": "Project", "Values": ["opskit"], "MatchOptions": ["EQUALS"]}},
                ]
            },
            "Metrics": ["UnblendedCost"],
            "CalculatedSpend": {
                "ActualSpend": {"Amount": actual, "Unit": "USD"},
                "ForecastedSpend": {"Amount": forecast, "Unit": "USD"},
            },
        }
    }


def test_update_budget_and_subscriber_sync_with_the_real_api_shape(tmp_path):
    """Stubber: AWS supports UpdateBudget and DescribeSubscribersForNotification; moto does not."""
    client = boto3.client("budgets", region_name="us-east-1")
    stub = Stubber(client)
    spec = make_spec(
        env(tmp_path),
        Decimal("80"),
        ("ops@example.com", "new@example.com"),
        None,
        (("ACTUAL", 80.0),),
    )
    stub.add_response(
        "describe_budget",
        describe_budget_response("50.0"),
        {"AccountId": ACCOUNT, "BudgetName": "opskit-dev-monthly"},
    )
    notification = {
        "NotificationType": "ACTUAL",
        "ComparisonOperator": "GREATER_THAN",
        "Threshold": 80.0,
        "ThresholdType": "PERCENTAGE",
        "NotificationState": "ALARM",
    }
    stub.add_response(
        "describe_notifications_for_budget",
        {"Notifications": [notification]},
        {"AccountId": ACCOUNT, "BudgetName": "opskit-dev-monthly", "MaxResults": 100},
    )
    plain = {k: v for k, v in notification.items() if k != "NotificationState"}
    stub.add_response(
        "describe_subscribers_for_notification",
        {
            "Subscribers": [
                {"SubscriptionType": "EMAIL", "Address": "ops@example.com"},
                {"SubscriptionType": "EMAIL", "Address": "old@example.com"},
            ]
        },
        {
            "AccountId": ACCOUNT,
            "BudgetName": "opskit-dev-monthly",
            "Notification": plain,
            "MaxResults": 100,
        },
    )
    # read first (describe_*), then the plan runs: update in place, then the subscriber sync
    stub.add_response("update_budget", {}, {"AccountId": ACCOUNT, "NewBudget": spec.budget()})
    stub.add_response(
        "create_subscriber",
        {},
        {
            "AccountId": ACCOUNT,
            "BudgetName": "opskit-dev-monthly",
            "Notification": plain,
            "Subscriber": {"SubscriptionType": "EMAIL", "Address": "new@example.com"},
        },
    )
    stub.add_response(
        "delete_subscriber",
        {},
        {
            "AccountId": ACCOUNT,
            "BudgetName": "opskit-dev-monthly",
            "Notification": plain,
            "Subscriber": {"SubscriptionType": "EMAIL", "Address": "old@example.com"},
        },
    )
    with stub:
        result = setup_budget(client, None, ACCOUNT, spec, yes)
    stub.assert_no_pending_responses()
    assert result.actions == [
        "updated budget opskit-dev-monthly: limit 50.00 -> 80.00 USD",
        "added subscriber new@example.com to ACTUAL > 80%",
        "removed subscriber old@example.com from ACTUAL > 80%",
    ]


def test_status_with_spend_and_aws_notification_state(tmp_path):
    client = boto3.client("budgets", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_response(
        "describe_budget",
        describe_budget_response("50.0", actual="42.5", forecast="61"),
        {"AccountId": ACCOUNT, "BudgetName": "opskit-dev-monthly"},
    )
    stub.add_response(
        "describe_notifications_for_budget",
        {
            "Notifications": [
                {
                    "NotificationType": "ACTUAL",
                    "ComparisonOperator": "GREATER_THAN",
                    "Threshold": 80.0,
                    "ThresholdType": "PERCENTAGE",
                    "NotificationState": "ALARM",
                },
                {
                    "NotificationType": "FORECASTED",
                    "ComparisonOperator": "GREATER_THAN",
                    "Threshold": 100.0,
                    "ThresholdType": "PERCENTAGE",
                },
            ]
        },
        {"AccountId": ACCOUNT, "BudgetName": "opskit-dev-monthly", "MaxResults": ANY},
    )
    with stub:
        status = budget_status(client, ACCOUNT, "opskit-dev-monthly")
    assert status["actual_pct"] == 85.0 and status["forecast_pct"] == 122.0
    rows = {n["notification"]: n for n in status["notifications"]}
    assert (
        rows["ACTUAL > 80%"]["state"] == "ALARM" and rows["ACTUAL > 80%"]["state_source"] == "aws"
    )
    assert (
        rows["FORECASTED > 100%"]["state"] == "ALARM"
        and rows["FORECASTED > 100%"]["state_source"] == "computed"
    )
    assert rows["ACTUAL > 80%"]["threshold_usd"] == 40.0


def test_a_5xx_on_update_deletes_nothing(tmp_path):
    """The old fallback deleted and recreated the budget on error codes 500/InternalFailure, so
    one transient fault from AWS lost a live budget and its history. Stubber: UpdateBudget
    answers 500 InternalFailure; no DeleteBudget or CreateBudget may follow (the Stubber fails
    on any call not queued), and the error says what to do."""
    client = boto3.client("budgets", region_name="us-east-1", config=NO_RETRY)
    stub = Stubber(client)
    spec = make_spec(env(tmp_path), Decimal("80"), ("ops@example.com",), None, (("ACTUAL", 80.0),))
    stub.add_response("describe_budget", describe_budget_response("50.0"))
    plain = {
        "NotificationType": "ACTUAL",
        "ComparisonOperator": "GREATER_THAN",
        "Threshold": 80.0,
        "ThresholdType": "PERCENTAGE",
    }
    stub.add_response("describe_notifications_for_budget", {"Notifications": [plain]})
    stub.add_response(
        "describe_subscribers_for_notification",
        {"Subscribers": [{"SubscriptionType": "EMAIL", "Address": "ops@example.com"}]},
    )
    for code in ("InternalFailure", "500"):
        stub.add_client_error(
            "update_budget", service_error_code=code, http_status_code=500, service_message="x"
        )
        with stub, pytest.raises(AwsError) as info:
            setup_budget(client, None, ACCOUNT, spec, yes)  # AWS: UpdateBudget exists
        stub.assert_no_pending_responses()
        assert "update budget opskit-dev-monthly" in info.value.format_message()
        assert "rerun" in info.value.format_message()
        stub.add_response("describe_budget", describe_budget_response("50.0"))
        stub.add_response("describe_notifications_for_budget", {"Notifications": [plain]})
        stub.add_response(
            "describe_subscribers_for_notification",
            {"Subscribers": [{"SubscriptionType": "EMAIL", "Address": "ops@example.com"}]},
        )


def test_plan_is_pure_and_replace_happens_only_when_the_endpoint_lacks_update():
    from opskit.budget import BudgetState, plan_budget

    spec = make_spec(
        Environment(name="dev", stack_name="s", region="us-east-1", project="opskit"),
        Decimal("80"),
        ("ops@example.com",),
        None,
        (("ACTUAL", 80.0),),
    )
    existing = describe_budget_response("50.0")["Budget"]
    aws = plan_budget(spec, BudgetState(existing, {}, {}), ACCOUNT, Capabilities())
    assert [s.call for s in aws.steps] == ["update_budget", "create_notification"]
    moto = plan_budget(spec, BudgetState(existing, {}, None), ACCOUNT, MOTO)
    assert [s.call for s in moto.steps] == ["delete_budget", "create_budget"]
    fresh = plan_budget(spec, BudgetState(None), ACCOUNT, Capabilities())
    assert [s.call for s in fresh.steps] == ["create_budget"]


def test_setup_plan_changes_nothing(budgets, clients, tmp_path):
    spec = make_spec(env(tmp_path), Decimal("50"), ("ops@example.com",), None)
    planned = setup_budget(budgets, clients.client("sns"), ACCOUNT, spec, yes, MOTO, dry_run=True)
    assert planned.changed and planned.actions[0].startswith(
        "would create budget opskit-dev-monthly"
    )
    assert budgets.describe_budgets(AccountId=ACCOUNT).get("Budgets", []) == []


@pytest.mark.parametrize("bad", ["a@b", "x y@z.com", "a@@b.com", "@example.com", "ops@", "ops"])
def test_emails_are_validated_by_email_validator(tmp_path, bad):
    with pytest.raises(UsageError, match="bad --email"):
        make_spec(env(tmp_path), Decimal("10"), (bad,), None)


def test_status_shows_health(tmp_path):
    client = boto3.client("budgets", region_name="us-east-1")
    stub = Stubber(client)
    response = describe_budget_response("50.0", actual="0", forecast="0")
    response["Budget"]["HealthStatus"] = {
        "Status": "UNHEALTHY",
        "StatusReason": "FILTER_INVALID",
        "LastUpdatedTime": datetime(2026, 11, 20, tzinfo=UTC),
    }
    stub.add_response("describe_budget", response)
    stub.add_response("describe_notifications_for_budget", {"Notifications": []})
    with stub:
        data = budget_status(client, ACCOUNT, "opskit-dev-monthly")
    assert data["health"]["status"] == "UNHEALTHY" and data["health"]["reason"] == "FILTER_INVALID"
    assert "rerun `opskit budget setup`" in data["health"]["meaning"]


@pytest.mark.parametrize(
    "args",
    [
        ["--amount", "ten", "--email", "ops@example.com"],
        ["--amount", "50", "--email", "a@@b.com"],
        ["--amount", "50", "--email", "ops@example.com", "--threshold", "weekly:80"],
        ["--amount", "50", "--sns-topic", "pager"],
    ],
)
def test_bad_setup_values_are_usage_errors_before_any_call(args):
    """docs/exit-codes.md: a bad option value exits 2 with one line. The values are checked
    before any client is made, so `--env dev` (no credentials here) never reaches AWS."""
    from click.testing import CliRunner

    from opskit.cli import cli

    result = CliRunner().invoke(cli, ["--env", "dev", "budget", "setup", *args])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and result.output.startswith("Error: ")
    bad_option = {"ten": "--amount", "a@@b.com": "--email", "pager": "--sns-topic"}
    named = [o for v, o in bad_option.items() if v in args] or ["--threshold"]
    assert named[0] in result.output
