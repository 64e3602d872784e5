"""The project's monthly cost budget: spec -> plan -> apply, and status.

Scoped with `FilterExpression` on the Project and Environment tags and `Metrics` (not the
legacy CostFilters). Like the alarms: `make_spec` says what is wanted, `read_state` reads what
exists, `plan_budget` (pure) lists the steps that turn one into the other, `apply_plan` runs
them. The budget is updated in place (UpdateBudget keeps its history); it is deleted and
recreated only when the endpoint is known to lack UpdateBudget (the local emulator:
`Capabilities.of(local=True)`), never because a call failed: a 5xx from AWS is an error and
deletes nothing. Notifications are created or deleted one by one, subscribers synced.
An SNS topic must allow budgets.amazonaws.com to publish, or alerts never arrive: checked,
fix offered. The Project/Environment tags must be active cost-allocation tags, or the budget
tracks $0 and never alerts: checked first, activation offered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from opskit.aws import aws_error, error_code
from opskit.config import Environment
from opskit.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from mypy_boto3_budgets import BudgetsClient
    from mypy_boto3_budgets.type_defs import BudgetOutputTypeDef, NotificationTypeDef
    from mypy_boto3_ce import CostExplorerClient
    from mypy_boto3_sns import SNSClient

MAX_EMAILS = 10  # AWS Budgets: at most 10 email subscribers per notification (plus one SNS topic)
DEFAULT_THRESHOLDS = (("ACTUAL", 80.0), ("ACTUAL", 100.0), ("FORECASTED", 100.0))
BUDGETS_PRINCIPAL = "budgets.amazonaws.com"


@dataclass(frozen=True)
class Capabilities:
    """What the endpoint implements, known up front (never guessed from an error)."""

    update_budget: bool = True  # UpdateBudget: AWS yes; moto 5.2 no
    list_subscribers: bool = True  # DescribeSubscribersForNotification: AWS yes; moto no

    @classmethod
    def of(cls, local: bool) -> Capabilities:
        return cls(update_budget=not local, list_subscribers=not local)


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
    planned: bool = False  # dry run: changes would be made

    @property
    def changed(self) -> bool:
        return self.planned or any(not a.startswith(("unchanged", "would")) for a in self.actions)


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'))}"


def notification(kind: str, threshold: float) -> dict[str, Any]:
    return {
        "NotificationType": kind,
        "ComparisonOperator": "GREATER_THAN",
        "Threshold": float(threshold),
        "ThresholdType": "PERCENTAGE",
    }


def _nkey(n: Mapping[str, Any]) -> tuple[str, str, float, str]:
    return (
        n["NotificationType"],
        n.get("ComparisonOperator", "GREATER_THAN"),
        round(float(n["Threshold"]), 4),
        n.get("ThresholdType", "PERCENTAGE"),
    )


def _describe(n: Mapping[str, Any]) -> str:
    return f"{n['NotificationType']} > {float(n['Threshold']):g}%"


def parse_amount(text: str) -> Decimal:
    """`--amount`, by the same rule as `opskit init --budget` and opskit.toml's budget."""
    from opskit.values import BadValue, amount_text

    try:
        amount_text(text)
    except BadValue as exc:
        raise UsageError(f"bad --amount '{text}'", exc.why, "e.g. --amount 50") from None
    return Decimal(str(text).strip().removeprefix("$"))


def parse_threshold(text: str) -> tuple[str, float]:
    """'80' -> ACTUAL 80; 'forecasted:100' -> FORECASTED 100."""
    kind, _, number = text.rpartition(":")
    kind = (kind or "actual").upper()
    if kind not in {"ACTUAL", "FORECASTED"}:
        raise UsageError(
            f"bad --threshold '{text}'",
            "the type must be actual or forecasted",
            "e.g. --threshold actual:80 --threshold forecasted:100",
        )
    try:
        value = float(number)
    except ValueError:
        raise UsageError(
            f"bad --threshold '{text}'", "expected a percentage", "e.g. --threshold actual:80"
        ) from None
    if not 0 < value <= 1000:
        raise UsageError(
            f"bad --threshold '{text}'",
            "the percentage must be in (0, 1000]",
            "e.g. --threshold actual:80",
        )
    return kind, value


def valid_email(text: str) -> str:
    """`--email`, normalized, by the rule opskit.toml's budget email follows (RFC 5321/5322
    syntax via email-validator; no DNS lookup)."""
    from opskit.values import BadValue, email

    try:
        return email(text)
    except BadValue as exc:
        raise UsageError(f"bad --email '{text}'", exc.why, "e.g. --email ops@example.com") from None


def make_spec(
    env: Environment,
    amount: Decimal,
    emails: tuple[str, ...],
    sns_topic: str | None,
    thresholds: tuple[tuple[str, float], ...] = (),
    name: str | None = None,
) -> BudgetSpec:
    if len(set(emails)) > MAX_EMAILS:
        raise UsageError(
            f"{len(set(emails))} email subscribers",
            f"AWS Budgets allows at most {MAX_EMAILS} per notification",
            "pass at most 10 --email, or subscribe the rest to an SNS topic and pass --sns-topic",
        )
    emails = tuple(valid_email(email) for email in emails)
    if sns_topic:
        from opskit.values import BadValue, topic_arn

        try:
            topic_arn(sns_topic)
        except BadValue as exc:
            raise UsageError(
                f"bad --sns-topic '{sns_topic}'",
                exc.why,
                "e.g. arn:aws:sns:us-east-1:123456789012:budget-alerts",
            ) from None
    if not emails and not sns_topic:
        raise UsageError(
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
    sns: SNSClient,
    topic_arn: str,
    account_id: str,
    confirm: Callable[[str], bool],
    result: SetupResult,
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


def _budget_differences(existing: Mapping[str, Any], wanted: dict[str, Any]) -> list[str]:
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


def _get_budget(budgets: BudgetsClient, account_id: str, name: str) -> BudgetOutputTypeDef | None:
    try:
        return budgets.describe_budget(AccountId=account_id, BudgetName=name)["Budget"]
    except Exception as exc:
        if error_code(exc) in {"NotFoundException", "NotFound"}:
            return None
        raise aws_error(f"reading budget {name}", exc, "grant budgets:ViewBudget") from None


NKey = tuple[str, str, float, str]
Subscriber = tuple[str, str]


@dataclass(frozen=True)
class BudgetState:
    """What exists: the budget, its notifications and (when listable) their subscribers."""

    budget: BudgetOutputTypeDef | None
    notifications: dict[NKey, NotificationTypeDef] = field(default_factory=dict)
    subscribers: dict[NKey, frozenset[Subscriber]] | None = None


@dataclass(frozen=True)
class Step:
    call: str  # the Budgets API method
    kwargs: dict[str, Any]
    description: str


@dataclass
class BudgetPlan:
    name: str
    steps: list[Step] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.steps)

    def lines(self) -> list[str]:
        return [step.description for step in self.steps] + [
            f"unchanged {u}" for u in self.unchanged
        ]


def read_state(
    budgets: BudgetsClient, account_id: str, name: str, caps: Capabilities
) -> BudgetState:
    budget = _get_budget(budgets, account_id, name)
    if budget is None:
        return BudgetState(None)
    try:
        found = budgets.describe_notifications_for_budget(
            AccountId=account_id, BudgetName=name, MaxResults=100
        ).get("Notifications", [])
    except Exception as exc:
        raise aws_error(
            f"reading notifications of {name}", exc, "grant budgets:ViewBudget"
        ) from None
    notifications = {_nkey(n): _plain(n) for n in found}
    if not caps.list_subscribers:
        return BudgetState(budget, notifications, None)
    subscribers: dict[NKey, frozenset[Subscriber]] = {}
    for key, n in notifications.items():
        try:
            listed = budgets.describe_subscribers_for_notification(
                AccountId=account_id, BudgetName=name, Notification=n, MaxResults=100
            ).get("Subscribers", [])
        except Exception as exc:
            raise aws_error(
                f"reading subscribers of {name}", exc, "grant budgets:ViewBudget"
            ) from None
        subscribers[key] = frozenset((s["SubscriptionType"], s["Address"]) for s in listed)
    return BudgetState(budget, notifications, subscribers)


def plan_budget(
    spec: BudgetSpec, state: BudgetState, account_id: str, caps: Capabilities
) -> BudgetPlan:
    """The steps from `state` to `spec` (pure: no AWS call)."""
    plan = BudgetPlan(spec.name)
    subscribers = spec.subscribers()
    base = {"AccountId": account_id}
    named = {**base, "BudgetName": spec.name}
    create = Step(
        "create_budget",
        {
            **base,
            "Budget": spec.budget(),
            "NotificationsWithSubscribers": [
                {"Notification": n, "Subscribers": subscribers} for n in spec.notifications()
            ],
        },
        f"create budget {spec.name}: {_money(spec.amount)} USD a month, tags {spec.tags}, "
        + ", ".join(
            f"{_describe(n)} -> {len(subscribers)} subscriber(s)" for n in spec.notifications()
        ),
    )
    if state.budget is None:
        plan.steps.append(create)
        return plan
    diffs = _budget_differences(state.budget, spec.budget())
    if diffs and not caps.update_budget:
        # Known up front: this endpoint has no UpdateBudget. Replacing loses the history,
        # which the emulator does not keep anyway.
        plan.steps.append(
            Step(
                "delete_budget",
                named,
                f"delete budget {spec.name} (this endpoint cannot update budgets)",
            )
        )
        plan.steps.append(
            Step(create.call, create.kwargs, f"recreate budget {spec.name}: {', '.join(diffs)}")
        )
        return plan
    if diffs:
        plan.steps.append(
            Step(
                "update_budget",
                {**base, "NewBudget": spec.budget()},
                f"update budget {spec.name}: {', '.join(diffs)}",
            )
        )
    else:
        plan.unchanged.append(f"budget {spec.name}")
    wanted = {_nkey(n): n for n in spec.notifications()}
    for key, old in state.notifications.items():
        if key not in wanted:
            plan.steps.append(
                Step(
                    "delete_notification",
                    {**named, "Notification": old},
                    f"delete notification {_describe(old)}",
                )
            )
    want = {(s["SubscriptionType"], s["Address"]) for s in subscribers}
    for key, n in wanted.items():
        if key not in state.notifications:
            plan.steps.append(
                Step(
                    "create_notification",
                    {**named, "Notification": n, "Subscribers": subscribers},
                    f"create notification {_describe(n)} -> {len(subscribers)} subscriber(s)",
                )
            )
            continue
        if state.subscribers is None:
            plan.warnings.append(
                "this endpoint cannot list budget subscribers (DescribeSubscribersForNotification): "
                "existing subscribers left as they are"
            )
            continue
        have = state.subscribers.get(key, frozenset())
        existing = state.notifications[key]
        for kind, address in sorted(want - have):
            plan.steps.append(
                Step(
                    "create_subscriber",
                    {
                        **named,
                        "Notification": existing,
                        "Subscriber": {"SubscriptionType": kind, "Address": address},
                    },
                    f"add subscriber {address} to {_describe(n)}",
                )
            )
        for kind, address in sorted(have - want):
            plan.steps.append(
                Step(
                    "delete_subscriber",
                    {
                        **named,
                        "Notification": existing,
                        "Subscriber": {"SubscriptionType": kind, "Address": address},
                    },
                    f"remove subscriber {address} from {_describe(n)}",
                )
            )
        if have == want:
            plan.unchanged.append(f"notification {_describe(n)}")
    plan.warnings = list(dict.fromkeys(plan.warnings))
    return plan


PAST = {
    "create": "created",
    "recreate": "recreated",
    "update": "updated",
    "delete": "deleted",
    "add": "added",
    "remove": "removed",
}


def apply_plan(budgets: BudgetsClient, plan: BudgetPlan) -> list[str]:
    """Run the steps in order; stop at the first failure (nothing after it runs)."""
    done: list[str] = []
    for step in plan.steps:
        try:
            getattr(budgets, step.call)(**step.kwargs)
        except Exception as exc:
            raise aws_error(
                f"{step.description} (after {len(done)} of {len(plan.steps)} steps)",
                exc,
                "grant budgets:ModifyBudget; rerun `opskit budget setup` to finish (it is idempotent)",
            ) from None
        verb, _, rest = step.description.partition(" ")
        done.append(f"{PAST.get(verb, verb)} {rest}")
    return done


def setup_budget(
    budgets: BudgetsClient,
    sns: SNSClient,
    account_id: str,
    spec: BudgetSpec,
    confirm: Callable[[str], bool],
    caps: Capabilities | None = None,
    dry_run: bool = False,
) -> SetupResult:
    """Read, plan, apply (or with `dry_run` only plan: the actions say what would happen)."""
    caps = caps or Capabilities()
    result = SetupResult(spec.name)
    if spec.sns_topic and not dry_run:
        check_topic_policy(sns, spec.sns_topic, account_id, confirm, result)
    state = read_state(budgets, account_id, spec.name, caps)
    plan = plan_budget(spec, state, account_id, caps)
    result.warnings.extend(plan.warnings)
    if dry_run:
        result.actions.extend(f"would {line}" for line in plan.lines())
        result.planned = plan.changed
        return result
    result.actions.extend(apply_plan(budgets, plan))
    result.actions.extend(f"unchanged {u}" for u in plan.unchanged)
    return result


def _plain(n: NotificationTypeDef) -> NotificationTypeDef:
    """The notification without its state: the form the Budgets calls take it in."""
    plain: NotificationTypeDef = {
        "NotificationType": n["NotificationType"],
        "ComparisonOperator": n["ComparisonOperator"],
        "Threshold": n["Threshold"],
    }
    if "ThresholdType" in n:
        plain["ThresholdType"] = n["ThresholdType"]
    return plain


# --- status -------------------------------------------------------------------------------------

# Budget.HealthStatus.StatusReason (AWS Budgets API reference): an UNHEALTHY budget is not
# tracking spend, so its alerts cannot fire.
HEALTH_REASONS = {
    "BILLING_VIEW_NO_ACCESS": "the budget's billing view is not accessible to this account: "
    "share the billing view again or recreate the budget",
    "BILLING_VIEW_UNHEALTHY": "the budget's billing view is unhealthy: check it in Billing > "
    "Billing View",
    "FILTER_INVALID": "its filter no longer matches a valid dimension or tag (an inactive "
    "cost-allocation tag?): rerun `opskit budget setup`",
    "MULTI_YEAR_HISTORICAL_DATA_DISABLED": "multi-year historical data was disabled in Cost "
    "Explorer settings: enable it again or shorten the budget",
}


def budget_status(budgets: BudgetsClient, account_id: str, name: str) -> dict[str, Any]:
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
    health = budget.get("HealthStatus") or {}
    status = health.get("Status")
    reason = health.get("StatusReason")
    return {
        "name": name,
        "health": {
            "status": status or "unknown",
            "reason": reason,
            "meaning": HEALTH_REASONS.get(reason or "", "") if status == "UNHEALTHY" else "",
            "last_updated": str(health["LastUpdatedTime"])
            if health.get("LastUpdatedTime")
            else None,
        },
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


def inactive_tags(status: dict[str, str], keys: list[str]) -> list[str]:
    """The keys that are not active cost-allocation tags (ListCostAllocationTags status)."""
    return [key for key in keys if status.get(key) != "Active"]


def activation_command(keys: list[str]) -> str:
    args = " ".join(f"TagKey={key},Status=Active" for key in keys)
    return f"aws ce update-cost-allocation-tags-status --cost-allocation-tags-status {args}"


def activate_tags(ce: CostExplorerClient, keys: list[str]) -> None:
    try:
        ce.update_cost_allocation_tags_status(
            CostAllocationTagsStatus=[{"TagKey": key, "Status": "Active"} for key in keys]
        )
    except Exception as exc:
        raise aws_error(
            f"activating cost-allocation tags {', '.join(keys)}",
            exc,
            f"grant ce:UpdateCostAllocationTagsStatus, or run `{activation_command(keys)}`",
        ) from None
