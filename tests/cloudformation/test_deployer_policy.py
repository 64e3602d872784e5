"""docs/deployer-policy.json: valid, complete for what deploy and destroy do, and real actions.

Oracle: botocore's service models. An IAM action named after an API operation must be an
operation of that service; the few that are permissions without an API of that name are
listed here with the reason (from the Service Authorization Reference).
"""

from __future__ import annotations

import json
from pathlib import Path

import botocore.session

ROOT = Path(__file__).resolve().parents[2]
POLICY = json.loads((ROOT / "docs" / "deployer-policy.json").read_text())
SERVICES = {"cloudformation": "cloudformation", "s3": "s3", "sts": "sts", "lambda": "lambda",
            "dynamodb": "dynamodb", "logs": "logs", "iam": "iam", "route53": "route53",
            "acm": "acm", "cloudwatch": "cloudwatch", "sns": "sns", "budgets": "budgets"}  # fmt: skip
PERMISSION_ONLY = {
    "s3:ListAllMyBuckets": "ListBuckets",
    "s3:PutBucketPublicAccessBlock": "PutPublicAccessBlock",
    "s3:ListBucket": "HeadBucket / ListObjects",
    "s3:PutEncryptionConfiguration": "PutBucketEncryption",
    "s3:PutLifecycleConfiguration": "PutBucketLifecycleConfiguration",
    "s3:GetObject": "HeadObject, and Lambda reading the zip with the caller's rights",
    "lambda:ListTags": "ListTags",
    "logs:CreateLogDelivery": "HTTP API access logging (vended log delivery)",
    "logs:GetLogDelivery": "HTTP API access logging",
    "logs:UpdateLogDelivery": "HTTP API access logging",
    "logs:DeleteLogDelivery": "HTTP API access logging",
    "logs:ListLogDeliveries": "HTTP API access logging",
    "iam:PassRole": "passing the execution role to Lambda",
    "budgets:ViewBudget": "DescribeBudget",
    "budgets:ModifyBudget": "DeleteBudget",
}


def actions() -> list[str]:
    found = []
    for statement in POLICY["Statement"]:
        listed = statement["Action"]
        found += [listed] if isinstance(listed, str) else listed
    return found


def test_every_action_is_a_real_operation_or_a_known_permission():
    session = botocore.session.get_session()
    models = {prefix: session.get_service_model(name) for prefix, name in SERVICES.items()}
    for action in actions():
        prefix, name = action.split(":")
        if prefix == "apigateway":
            assert name in {"GET", "POST", "PATCH", "PUT", "DELETE"}
            continue
        if action in PERMISSION_ONLY:
            continue
        assert name in models[prefix].operation_names, action


def test_covers_what_the_issue_and_the_code_need():
    listed = set(actions())
    for needed in (
        "cloudformation:CreateChangeSet", "cloudformation:UpdateTerminationProtection",
        "logs:CreateLogDelivery", "logs:PutResourcePolicy",  # HTTP API access logs
        "route53:ChangeResourceRecordSets",  # the custom domain's record
        "dynamodb:DescribeTable", "logs:DescribeLogGroups",  # import reads what it adopts
        "s3:PutBucketPolicy", "s3:PutLifecycleConfiguration", "s3:ListAllMyBuckets",
        "cloudwatch:DeleteAlarms", "cloudwatch:DeleteDashboards", "sns:DeleteTopic",
        "logs:DeleteMetricFilter", "budgets:ModifyBudget", "lambda:PutFunctionConcurrency",
    ):  # fmt: skip
        assert needed in listed, needed
    assert len(listed) == len(actions()), "an action is listed twice"
    (pass_role,) = [s for s in POLICY["Statement"] if s["Action"] == "iam:PassRole"]
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}
    }
