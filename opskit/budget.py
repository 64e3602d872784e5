"""The project's monthly cost budget: idempotent setup and status.

Scoped with `FilterExpression` on the Project and Environment tags and
`Metrics` (not the legacy CostFilters). Setup compares what exists with what is
wanted and changes only the difference: update_budget for the budget itself
(delete + recreate when the endpoint cannot update), notifications created or
deleted one by one, subscribers synced. An SNS topic must allow
budgets.amazonaws.com to publish, or alerts never arrive: checked, fix offered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from opskit.aws import aws_error, error_code
from opskit.config import Environment
from opskit.errors import ConfigError, NotFoundError

MAX_EMAILS = 10  # AWS Budgets: at most 10 email subscribers per notification (plus one SNS topic)
DEFAULT_THRESHOLDS = (("ACTUAL", 80.0), ("ACTUAL", 100.0), ("FORECASTED", 100.0))
UNSUPPORTED_CODES = {"NotImplemented", "500", "501", "InternalFailure"}
BUDGETS_PRINCIPAL = "budgets.amazonaws.com"


@dataclass(frozen=True)
class BudgetSpec:
    name: str
    amount: Decimal
    tags: dict[str, str]
    thresholds: tuple[tuple[str, float], ...] = DEFAULT_THRESHOLDS
    emails: tuple[str, ...] = ()
    sns_topic: str | None = None
    metric: str = "UnblendedCost"

    def budget(self) -> dict[str, Any]:
        return {
            "BudgetName": self.name,
            "BudgetType": "COST",
            "TimeUnit": "MONTHLY",
            "BudgetLimit": {"Amount": _money(self.amount), "Unit": "USD"},
            "FilterExpression": {
                "And": [
                    {"Tags": {"Key": k, "Values": [v], "MatchOptions": ["EQUALS"]}}
                    for k, v in sorted(self.tags.items())
                ]
            },
            "Metrics": [self.metric],
        }

    def subscribers(self) -> list[dict[str, str]]:
        subs = [{"SubscriptionType": "EMAIL", "Address": e} for e in self.emails]
        if self.sns_topic:
            subs.append({"SubscriptionType": "SNS", "Address": self.sns_topic})
        return subs

    def notifications(self) -> list[dict[str, Any]]:
        return [notification(kind, threshold) for kind, threshold in self.thresholds]


@dataclass
class SetupResult:
    name: str
    actions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(not a.startswith("unchanged") for a in self.actions)


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'))}"


def notification(kind: str, threshold: float) -> dict[str, Any]:
    return {
        "NotificationType": kind,
        "ComparisonOperator": "GREATER_THAN",
        "Threshold": float(threshold),
        "ThresholdType": "PERCENTAGE",
    }


def _nkey(n: dict[str, Any]) -> tuple[str, str, float, str]:
    return (
        n["NotificationType"],
        n.get("ComparisonOperator", "GREATER_THAN"),
        round(float(n["Threshold"]), 4),
        n.get("ThresholdType", "PERCENTAGE"),
    )


def _describe(n: dict[str, Any]) -> str:
    return f"{n['NotificationType']} > {float(n['Threshold']):g}%"


def parse_amount(text: str) -> Decimal:
    try:
        value = Decimal(str(text).strip().lstrip("$"))
    except InvalidOperation:
        raise ConfigError(
            f"bad --amount '{text}'", "expected a number of US dollars", "e.g. --amount 50"
        ) from None
    if value <= 0:
        raise ConfigError(f"bad --amount '{text}'", "must be more than 0", "e.g. --amount 50")
    return value


def parse_threshold(text: str) -> tuple[str, float]:
    """'80' -> ACTUAL 80; 'forecasted:100' -> FORECASTED 100."""
    kind, _, number = text.rpartition(":")
    kind = (kind or "actual").upper()
    if kind not in {"ACTUAL", "FORECASTED"}:
        raise ConfigError(
            f"bad --threshold '{text}'",
            "the type must be actual or forecasted",
            "e.g. --threshold actual:80 --threshold forecasted:100",
        )
    try:
        value = float(number)
    except ValueError:
        raise ConfigError(
            f"bad --threshold '{text}'", "expected a percentage", "e.g. --threshold actual:80"
        ) from None
    if not 0 < value <= 1000:
        raise ConfigError(
            f"bad --threshold '{text}'",
            "the percentage must be in (0, 1000]",
            "e.g. --threshold actual:80",
        )
    return kind, value


def make_spec(
    env: Environment,
    amount: Decimal,
    emails: tuple[str, ...],
    sns_topic: str | None,
    thresholds: tuple[tuple[str, float], ...] = (),
    name: str | None = None,
) -> BudgetSpec:
    if len(set(emails)) > MAX_EMAILS:
        raise ConfigError(
            f"{len(set(emails))} email subscribers",
            f"AWS Budgets allows at most {MAX_EMAILS} per notification",
            "pass at most 10 --email, or subscribe the rest to an SNS topic and pass --sns-topic",
        )
    for email in emails:
        if "@" not in email or email.startswith("@") or email.endswith("@"):
            raise ConfigError(
                f"bad --email '{email}'", "not an email address", "e.g. --email ops@example.com"
            )
    if sns_topic and not sns_topic.startswith("arn:"):
        raise ConfigError(
            f"bad --sns-topic '{sns_topic}'",
            "expected a topic ARN",
            "e.g. arn:aws:sns:us-east-1:123456789012:budget-alerts",
        )
    if not emails and not sns_topic:
        raise ConfigError(
            "no one to notify",
            "a budget alert needs a subscriber",
            "pass --email ADDR (up to 10) and/or --sns-topic ARN",
        )
    unique = tuple(dict.fromkeys(thresholds or DEFAULT_THRESHOLDS))
    return BudgetSpec(
        name=name or f"{env.project}-{env.name}-monthly",
        amount=amount,
        tags=env.tags,
        thresholds=unique,
        emails=tuple(dict.fromkeys(emails)),
        sns_topic=sns_topic,
    )


# --- SNS topic policy ---------------------------------------------------------------------------


def _allows_budgets(policy: dict[str, Any]) -> bool:
    for statement in policy.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = [services] if isinstance(services, str) else services
        if principal != "*" and BUDGETS_PRINCIPAL not in services:
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if any(a.lower() in {"sns:publish", "sns:*", "*"} for a in actions):
            return True
    return False


def budgets_statement(topic_arn: str, account_id: str) -> dict[str, Any]:
    return {
        "Sid": "AllowAWSBudgetsPublish",
        "Effect": "Allow",
        "Principal": {"Service": BUDGETS_PRINCIPAL},
        "Action": "SNS:Publish",
        "Resource": topic_arn,
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }


def check_topic_policy(
    sns: Any, topic_arn: str, account_id: str, confirm: Callable[[str], bool], result: SetupResult
) -> None:
    try:
        attributes = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    except Exception as exc:
        if error_code(exc) in {"NotFound", "NotFoundException"}:
            raise NotFoundError(
                f"SNS topic {topic_arn} not found",
                "Budgets cannot publish to it",
                "create it (`aws sns create-topic`) or fix --sns-topic",
            ) from None
        raise aws_error(
            f"reading the policy of {topic_arn}", exc, "grant sns:GetTopicAttributes"
        ) from None
    policy = json.loads(attributes.get("Policy") or '{"Version": "2012-10-17", "Statement": []}')
    if _allows_budgets(policy):
        result.actions.append(
            f"unchanged SNS policy: {BUDGETS_PRINCIPAL} may publish to {topic_arn}"
        )
        return
    statement = budgets_statement(topic_arn, account_id)
    if not confirm(
        f"The topic policy of {topic_arn} does not let {BUDGETS_PRINCIPAL} publish, so alerts would never arrive. Add that statement?"
    ):
        result.warnings.append(
            f"{topic_arn} does not allow {BUDGETS_PRINCIPAL} to publish: alerts will not arrive. "
            f"Rerun with --yes to add this statement: {json.dumps(statement)}"
        )
        return
    policy.setdefault("Version", "2012-10-17")
    policy.setdefault("Statement", []).append(statement)
    try:
        sns.set_topic_attributes(
            TopicArn=topic_arn, AttributeName="Policy", AttributeValue=json.dumps(policy)
        )
    except Exception as exc:
        raise aws_error(
            f"updating the policy of {topic_arn}", exc, "grant sns:SetTopicAttributes"
        ) from None
    result.actions.append(f"updated SNS policy: {BUDGETS_PRINCIPAL} may now publish to {topic_arn}")


# --- budget -------------------------------------------------------------------------------------


def _budget_differences(existing: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    diffs = []
    try:
        old_amount = Decimal(str(existing.get("BudgetLimit", {}).get("Amount", "0")))
    except InvalidOperation:
        old_amount = Decimal(0)
    if old_amount != Decimal(wanted["BudgetLimit"]["Amount"]):
        diffs.append(f"limit {_money(old_amount)} -> {wanted['BudgetLimit']['Amount']} USD")
    for key in ("BudgetType", "TimeUnit"):
        if existing.get(key) != wanted[key]:
            diffs.append(f"{key} {existing.get(key)} -> {wanted[key]}")
    if _normal(existing.get("FilterExpression")) != _normal(wanted["FilterExpression"]):
        diffs.append("tag filter")
    if existing.get("Metrics") != wanted["Metrics"]:
        diffs.append(f"metrics {existing.get('Metrics')} -> {wanted['Metrics']}")
    if existing.get("CostFilters"):
        diffs.append("legacy CostFilters dropped")
    return diffs


def _normal(expression: Any) -> str:
    """Compare filter expressions ignoring the order of And terms and default MatchOptions."""
    if not isinstance(expression, dict):
        return json.dumps(expression)
    if "And" in expression:
        return json.dumps(sorted(_normal(e) for e in expression["And"]))
    if "Tags" in expression:
        tags = dict(expression["Tags"])
        tags.setdefault("MatchOptions", ["EQUALS"])
        tags["Values"] = sorted(tags.get("Values", []))
        return json.dumps(tags, sort_keys=True)
    return json.dumps(expression, sort_keys=True)


def _get_budget(budgets: Any, account_id: str, name: str) -> dict[str, Any] | None:
    try:
        return budgets.describe_budget(AccountId=account_id, BudgetName=name)["Budget"]
    except Exception as exc:
        if error_code(exc) in {"NotFoundException", "NotFound"}:
            return None
        raise aws_error(f"reading budget {name}", exc, "grant budgets:ViewBudget") from None


def _create(budgets: Any, account_id: str, spec: BudgetSpec) -> None:
    try:
        budgets.create_budget(
            AccountId=account_id,
            Budget=spec.budget(),
            NotificationsWithSubscribers=[
                {"Notification": n, "Subscribers": spec.subscribers()} for n in spec.notifications()
            ],
        )
    except Exception as exc:
        raise aws_error(f"creating budget {spec.name}", exc, "grant budgets:ModifyBudget") from None


def setup_budget(
    budgets: Any, sns: Any, account_id: str, spec: BudgetSpec, confirm: Callable[[str], bool]
) -> SetupResult:
    result = SetupResult(spec.name)
    if spec.sns_topic:
        check_topic_policy(sns, spec.sns_topic, account_id, confirm, result)
    existing = _get_budget(budgets, account_id, spec.name)
    if existing is None:
        _create(budgets, account_id, spec)
        result.actions.append(
            f"created budget {spec.name}: {_money(spec.amount)} USD a month, tags {spec.tags}"
        )
        result.actions.extend(
            f"created notification {_describe(n)} -> {len(spec.subscribers())} subscriber(s)"
            for n in spec.notifications()
        )
        return result
    diffs = _budget_differences(existing, spec.budget())
    if diffs:
        try:
            budgets.update_budget(AccountId=account_id, NewBudget=spec.budget())
            result.actions.append(f"updated budget {spec.name}: {', '.join(diffs)}")
        except Exception as exc:
            if error_code(exc) not in UNSUPPORTED_CODES:
                raise aws_error(
                    f"updating budget {spec.name}", exc, "grant budgets:ModifyBudget"
                ) from None
            try:
                budgets.delete_budget(AccountId=account_id, BudgetName=spec.name)
            except Exception as delete_exc:
                raise aws_error(
                    f"replacing budget {spec.name}", delete_exc, "grant budgets:ModifyBudget"
                ) from None
            _create(budgets, account_id, spec)
            result.actions.append(
                f"recreated budget {spec.name} (this endpoint cannot update budgets): {', '.join(diffs)}"
            )
            return result
    else:
        result.actions.append(f"unchanged budget {spec.name}")
    _sync_notifications(budgets, account_id, spec, result)
    return result


def _sync_notifications(
    budgets: Any, account_id: str, spec: BudgetSpec, result: SetupResult
) -> None:
    try:
        pages = budgets.describe_notifications_for_budget(
            AccountId=account_id, BudgetName=spec.name, MaxResults=100
        )
    except Exception as exc:
        raise aws_error(
            f"reading notifications of {spec.name}", exc, "grant budgets:ViewBudget"
        ) from None
    existing = {_nkey(n): n for n in pages.get("Notifications", [])}
    wanted = {_nkey(n): n for n in spec.notifications()}
    for key, n in existing.items():
        if key not in wanted:
            budgets.delete_notification(
                AccountId=account_id, BudgetName=spec.name, Notification=_plain(n)
            )
            result.actions.append(f"deleted notification {_describe(n)}")
    can_list = True
    for key, n in wanted.items():
        if key not in existing:
            budgets.create_notification(
                AccountId=account_id,
                BudgetName=spec.name,
                Notification=n,
                Subscribers=spec.subscribers(),
            )
            result.actions.append(
                f"created notification {_describe(n)} -> {len(spec.subscribers())} subscriber(s)"
            )
            continue
        if not can_list:
            continue
        try:
            current = budgets.describe_subscribers_for_notification(
                AccountId=account_id,
                BudgetName=spec.name,
                Notification=_plain(existing[key]),
                MaxResults=100,
            )
        except Exception as exc:
            if error_code(exc) not in UNSUPPORTED_CODES:
                raise aws_error(
                    f"reading subscribers of {spec.name}", exc, "grant budgets:ViewBudget"
                ) from None
            can_list = False
            result.warnings.append(
                "this endpoint cannot list budget subscribers (DescribeSubscribersForNotification): existing subscribers left as they are"
            )
            continue
        have = {(s["SubscriptionType"], s["Address"]) for s in current.get("Subscribers", [])}
        want = {(s["SubscriptionType"], s["Address"]) for s in spec.subscribers()}
        for kind, address in sorted(want - have):
            budgets.create_subscriber(
                AccountId=account_id,
                BudgetName=spec.name,
                Notification=_plain(existing[key]),
                Subscriber={"SubscriptionType": kind, "Address": address},
            )
            result.actions.append(f"added subscriber {address} to {_describe(n)}")
        for kind, address in sorted(have - want):
            budgets.delete_subscriber(
                AccountId=account_id,
                BudgetName=spec.name,
                Notification=_plain(existing[key]),
                Subscriber={"SubscriptionType": kind, "Address": address},
            )
            result.actions.append(f"removed subscriber {address} from {_describe(n)}")
        if have == want:
            result.actions.append(f"unchanged notification {_describe(n)}")


def _plain(n: dict[str, Any]) -> dict[str, Any]:
    return {
        k: n[k]
        for k in ("NotificationType", "ComparisonOperator", "Threshold", "ThresholdType")
        if k in n
    }


# --- status -------------------------------------------------------------------------------------


def budget_status(budgets: Any, account_id: str, name: str) -> dict[str, Any]:
    budget = _get_budget(budgets, account_id, name)
    if budget is None:
        raise NotFoundError(
            f"budget {name} not found",
            "it has not been set up",
            "run `opskit budget setup --amount USD --email ADDR`",
        )
    limit = float(budget.get("BudgetLimit", {}).get("Amount", 0) or 0)
    spend = budget.get("CalculatedSpend", {})
    actual = float(spend.get("ActualSpend", {}).get("Amount", 0) or 0)
    forecast_raw = spend.get("ForecastedSpend", {}).get("Amount")
    forecast = float(forecast_raw) if forecast_raw not in (None, "") else None
    try:
        notes = budgets.describe_notifications_for_budget(
            AccountId=account_id, BudgetName=name, MaxResults=100
        ).get("Notifications", [])
    except Exception as exc:
        raise aws_error(
            f"reading notifications of {name}", exc, "grant budgets:ViewBudget"
        ) from None
    rows = []
    for n in sorted(notes, key=_nkey):
        basis = actual if n["NotificationType"] == "ACTUAL" else (forecast or 0.0)
        reached = limit > 0 and basis > limit * float(n["Threshold"]) / 100
        rows.append(
            {
                "notification": _describe(n),
                "threshold_usd": round(limit * float(n["Threshold"]) / 100, 2),
                "state": n.get("NotificationState") or ("ALARM" if reached else "OK"),
                "state_source": "aws" if n.get("NotificationState") else "computed",
            }
        )
    return {
        "name": name,
        "limit_usd": limit,
        "actual_usd": actual,
        "forecast_usd": forecast,
        "actual_pct": round(actual / limit * 100, 1) if limit else None,
        "forecast_pct": round(forecast / limit * 100, 1)
        if limit and forecast is not None
        else None,
        "filter": budget.get("FilterExpression") or budget.get("CostFilters") or {},
        "notifications": rows,
    }


def account_id_of(sts: Any) -> str:
    try:
        return sts.get_caller_identity()["Account"]
    except Exception as exc:
        raise aws_error(
            "finding the AWS account id", exc, "check credentials (`aws sts get-caller-identity`)"
        ) from None
