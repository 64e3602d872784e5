"""The alarm notification topic: `<stack>-alarms`, a policy letting CloudWatch publish, email subscriptions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import botocore.exceptions

from opskit import values
from opskit.alarms.plan import Change
from opskit.aws import aws_error
from opskit.errors import UsageError

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import TagTypeDef
    from mypy_boto3_sts import STSClient


def topic_name(stack: str) -> str:
    return f"{stack}-alarms"


def topic_policy(topic_arn: str) -> dict[str, Any]:
    """The account keeps managing the topic; CloudWatch alarms of this account may publish."""
    _, _, _, region, account, _ = topic_arn.split(":", 5)
    return {
        "Version": "2012-10-17",
        "Id": "opskit-alarms",
        "Statement": [
            {
                "Sid": "AccountManagesTopic",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": [
                    "SNS:GetTopicAttributes",
                    "SNS:SetTopicAttributes",
                    "SNS:AddPermission",
                    "SNS:RemovePermission",
                    "SNS:DeleteTopic",
                    "SNS:Subscribe",
                    "SNS:ListSubscriptionsByTopic",
                    "SNS:Publish",
                ],
                "Resource": topic_arn,
            },
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "SNS:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account}:alarm:*"},
                    "StringEquals": {"aws:SourceAccount": account},
                },
            },
        ],
    }


@dataclass
class TopicPlan:
    name: str
    arn: str | None  # existing (or given) topic
    arn_for_alarms: str | None  # what alarms will notify (known before the topic exists)
    create: bool = False
    set_policy: bool = False
    email: str | None = None
    subscribe: bool = False
    changes: list[Change] = field(default_factory=list)


def find_topic(sns: SNSClient, name: str) -> str | None:
    try:
        for page in sns.get_paginator("list_topics").paginate():
            for topic in page.get("Topics", []):
                if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                    return topic["TopicArn"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise aws_error("cannot list SNS topics", exc) from None
    return None


def _account_id(sts: STSClient) -> str:
    try:
        return sts.get_caller_identity()["Account"]
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise aws_error("cannot read the account id", exc) from None


def plan_topic(
    sns: SNSClient,
    *,
    stack: str,
    email: str | None,
    explicit_arn: str | None,
    sts: STSClient,
) -> TopicPlan:
    """Which topic alarms notify and what must change to get there.

    Order: --sns-topic (or `sns_topic` in opskit.toml) as given; else `<stack>-alarms`,
    created when --email is passed, reused when it already exists; else no actions.
    """
    if explicit_arn:  # --sns-topic is checked as it is parsed; opskit.toml's sns_topic here
        try:
            values.topic_arn(explicit_arn)
        except values.BadValue as exc:
            raise UsageError(
                f"sns_topic {explicit_arn}", exc.why, "pass arn:aws:sns:REGION:ACCOUNT:NAME"
            ) from None
        plan = TopicPlan(
            name=explicit_arn.rsplit(":", 1)[-1], arn=explicit_arn, arn_for_alarms=explicit_arn
        )
    else:
        name = topic_name(stack)
        arn = find_topic(sns, name)
        plan = TopicPlan(name=name, arn=arn, arn_for_alarms=arn)
        if arn is None and email is not None:
            region = sns.meta.region_name
            account = _account_id(sts)
            plan.create = True
            plan.arn_for_alarms = f"arn:aws:sns:{region}:{account}:{name}"
            plan.changes.append(Change("create", "sns-topic", name))
        if arn is not None or plan.create:
            plan.set_policy = plan.create or _policy_differs(sns, arn)
            if plan.set_policy:
                action = "create" if plan.create else "update"
                plan.changes.append(
                    Change(action, "topic-policy", name, "cloudwatch.amazonaws.com may publish")
                )
            else:
                plan.changes.append(Change("unchanged", "sns-topic", name))
    if email is not None:
        plan.email = email
        subscribed = plan.arn is not None and _is_subscribed(sns, plan.arn, email)
        if not subscribed:
            plan.subscribe = True
            plan.changes.append(
                Change("create", "subscription", email, "confirm it from the email AWS sends")
            )
        else:
            plan.changes.append(Change("unchanged", "subscription", email))
    return plan


def _policy_differs(sns: SNSClient, arn: str | None) -> bool:
    if arn is None:
        return True
    try:
        current = sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("Policy", "{}")
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise aws_error(f"cannot read topic {arn}", exc) from None
    return json.loads(current or "{}") != topic_policy(arn)


def _is_subscribed(sns: SNSClient, arn: str, email: str) -> bool:
    try:
        pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn)
        return any(
            s.get("Protocol") == "email" and s.get("Endpoint", "").lower() == email.lower()
            for page in pages
            for s in page.get("Subscriptions", [])
        )
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise aws_error(f"cannot list the subscriptions of {arn}", exc) from None


def apply_topic(sns: SNSClient, plan: TopicPlan, tags: Sequence[TagTypeDef]) -> str | None:
    arn = plan.arn
    try:
        if plan.create:
            arn = sns.create_topic(Name=plan.name, Tags=tags)["TopicArn"]
        if plan.set_policy and arn:
            sns.set_topic_attributes(
                TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(topic_policy(arn))
            )
        if plan.subscribe and arn and plan.email:
            sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=plan.email)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise aws_error(f"cannot set up SNS topic {plan.name}", exc) from None
    return arn or plan.arn_for_alarms
