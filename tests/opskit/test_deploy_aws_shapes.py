"""Deploy paths moto does not implement faithfully, against botocore's Stubber.

moto "imports" by creating the resource again (it fails on an existing table),
has no UpdateTerminationProtection, never evaluates rollback triggers and ignores
IncludePropertyValues. Request and response shapes here follow the CloudFormation
API reference: CreateChangeSet (ResourcesToImport, RollbackConfiguration),
DescribeChangeSet with IncludePropertyValues (ResourceChange.Details[].Target with
BeforeValue/AfterValue), UpdateTerminationProtection, DescribeStacks
(EnableTerminationProtection) and DescribeStackEvents.
"""

from __future__ import annotations

import shutil
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber

from opskit.aws import ClientFactory
from opskit.config import load_environment
from opskit.deploy import adopt, changeset, diff, saved
from opskit.deploy.destroy import destroy
from opskit.deploy.service import _termination_protection, rolled_back
from opskit.deploy.template import parse_template
from opskit.errors import EXIT_DEPLOY_FAILED, DeployFailed

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "111122223333"
STACK = "opskit-dev"
STACK_ID = (
    f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{STACK}/5b4a1c80-2a2b-11ef-9f1a-0a1b2c3d4e5f"
)
CS_ID = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:changeSet/opskit-import-x/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
T0 = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def template() -> dict:
    return parse_template((ROOT / "cloudformation" / "gateway.yaml").read_text())


@pytest.fixture
def cfn():
    return boto3.client(
        "cloudformation",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


class Notes:
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)

    def confirm(self, question: str) -> bool:
        return True


def test_import_change_set_has_the_documented_shape(template, cfn):
    found = adopt.candidates(template, STACK)
    assert [(a.logical_id, a.identifier) for a in found] == [
        ("RateLimitTable", f"{STACK}-rate-limits"),
        ("SessionsTable", f"{STACK}-sessions"),
        ("FunctionLogGroup", f"/aws/lambda/{STACK}-gateway"),
        ("AccessLogGroup", f"/aws/apigateway/{STACK}-api"),
    ]
    body = adopt.import_template(template, found)
    # An import may hold only the imported resources, each with a DeletionPolicy.
    assert set(body["Resources"]) == {a.logical_id for a in found}
    assert "Outputs" not in body
    assert all(r["DeletionPolicy"] == "RetainExceptOnCreate" for r in body["Resources"].values())
    options = changeset.ChangeSetOptions(
        capabilities=[],
        tags={"Project": "opskit"},
        resources_to_import=[a.to_import() for a in found],
    )
    with Stubber(cfn) as stub:
        stub.add_response(
            "create_change_set",
            {"Id": CS_ID, "StackId": STACK_ID},
            {
                "StackName": STACK,
                "ChangeSetName": "opskit-import-x",
                "ChangeSetType": "IMPORT",
                "Parameters": [],
                "Description": ANY,
                "Capabilities": [],
                "Tags": [{"Key": "Project", "Value": "opskit"}],
                "TemplateBody": "{}",
                "ResourcesToImport": [
                    {
                        "ResourceType": "AWS::DynamoDB::Table",
                        "LogicalResourceId": "RateLimitTable",
                        "ResourceIdentifier": {"TableName": f"{STACK}-rate-limits"},
                    },
                    {
                        "ResourceType": "AWS::DynamoDB::Table",
                        "LogicalResourceId": "SessionsTable",
                        "ResourceIdentifier": {"TableName": f"{STACK}-sessions"},
                    },
                    {
                        "ResourceType": "AWS::Logs::LogGroup",
                        "LogicalResourceId": "FunctionLogGroup",
                        "ResourceIdentifier": {"LogGroupName": f"/aws/lambda/{STACK}-gateway"},
                    },
                    {
                        "ResourceType": "AWS::Logs::LogGroup",
                        "LogicalResourceId": "AccessLogGroup",
                        "ResourceIdentifier": {"LogGroupName": f"/aws/apigateway/{STACK}-api"},
                    },
                ],
            },
        )
        made = changeset.create_change_set(
            cfn, stack_name=STACK, name="opskit-import-x", change_set_type="IMPORT",
            parameters=[], options=options, template_body="{}",
        )  # fmt: skip
    assert made.change_set_type == "IMPORT"


def test_rollback_triggers_are_sent_as_rollback_configuration(cfn):
    alarm = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{STACK}-api-5xx-rate"
    options = changeset.ChangeSetOptions(
        capabilities=["CAPABILITY_IAM"], rollback_triggers=[alarm], monitoring_minutes=10,
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/deployer",
        notification_arns=[f"arn:aws:sns:us-east-1:{ACCOUNT}:stack-events"],
    )  # fmt: skip
    with Stubber(cfn) as stub:
        stub.add_response(
            "create_change_set",
            {"Id": CS_ID, "StackId": STACK_ID},
            {
                "StackName": STACK, "ChangeSetName": "c", "ChangeSetType": "UPDATE",
                "Parameters": [{"ParameterKey": "MemorySize", "UsePreviousValue": True}],
                "Description": ANY, "Capabilities": ["CAPABILITY_IAM"], "Tags": [],
                "TemplateBody": "{}", "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/deployer",
                "NotificationARNs": [f"arn:aws:sns:us-east-1:{ACCOUNT}:stack-events"],
                "RollbackConfiguration": {
                    "RollbackTriggers": [{"Arn": alarm, "Type": "AWS::CloudWatch::Alarm"}],
                    "MonitoringTimeInMinutes": 10,
                },
            },
        )  # fmt: skip
        changeset.create_change_set(
            cfn, stack_name=STACK, name="c", change_set_type="UPDATE",
            parameters=[{"ParameterKey": "MemorySize", "UsePreviousValue": True}],
            options=options, template_body="{}",
        )  # fmt: skip


def _event(logical: str, status: str, minute: int, reason: str = "") -> dict:
    e = {
        "StackId": STACK_ID,
        "EventId": f"{logical}-{status}-{minute}",
        "StackName": STACK,
        "LogicalResourceId": logical,
        "ResourceType": "AWS::CloudFormation::Stack"
        if logical == STACK
        else "AWS::Lambda::Function",
        "Timestamp": T0,
        "ResourceStatus": status,
    }
    if reason:
        e["ResourceStatusReason"] = reason
    return e


def test_a_triggered_rollback_says_why_and_what_was_rolled_back():
    reason = f"Rollback trigger arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{STACK}-api-5xx-rate was in ALARM state"
    events = [  # oldest first, as streamed
        _event(STACK, "UPDATE_IN_PROGRESS", 0, "User Initiated"),
        _event("Function", "UPDATE_COMPLETE", 1),
        _event(STACK, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", 2),
        _event(STACK, "UPDATE_ROLLBACK_IN_PROGRESS", 5, reason),
        _event("Function", "UPDATE_IN_PROGRESS", 6),
        _event("Function", "UPDATE_COMPLETE", 6),
        _event(STACK, "UPDATE_ROLLBACK_COMPLETE", 7),
    ]
    result = rolled_back(events, STACK)
    assert result.reason == reason
    assert result.resources == ["Function"]


def test_termination_protection_is_turned_on_as_configured(cfn, tmp_path):
    env = load_environment("prod", ROOT / "opskit.toml")
    assert env.settings["termination_protection"] is True  # on for prod in opskit.toml
    ui = Notes()
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            {"Stacks": [{"StackName": "opskit-prod", "StackId": STACK_ID, "CreationTime": T0,
                         "StackStatus": "UPDATE_COMPLETE", "EnableTerminationProtection": False}]},
            {"StackName": "opskit-prod"},
        )  # fmt: skip
        stub.add_response(
            "update_termination_protection",
            {"StackId": STACK_ID},
            {"StackName": "opskit-prod", "EnableTerminationProtection": True},
        )
        _termination_protection(cfn, env, True, ui)
        stub.assert_no_pending_responses()
    assert ui.notes == ["Termination protection enabled on opskit-prod."]


def test_destroy_refuses_a_protected_stack_with_the_command_to_unprotect(cfn):
    env = load_environment("prod", ROOT / "opskit.toml")
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    factory = ClientFactory("us-east-1", session=session)
    cfn = factory.client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            {"Stacks": [{"StackName": "opskit-prod", "StackId": STACK_ID, "CreationTime": T0,
                         "StackStatus": "UPDATE_COMPLETE", "EnableTerminationProtection": True}]},
            {"StackName": "opskit-prod"},
        )  # fmt: skip
        with pytest.raises(DeployFailed) as info:
            destroy(env, factory, Notes(), assume_yes=True, clock=lambda: T0, sleep=lambda s: None)
    assert info.value.exit_code == EXIT_DEPLOY_FAILED
    assert "--no-enable-termination-protection --stack-name opskit-prod" in info.value.format_line()


def test_property_diff_reads_include_property_values_details():
    # DescribeChangeSet with IncludePropertyValues=true: one Details entry per property.
    changes = [
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": "Function",
                "ResourceType": "AWS::Lambda::Function",
                "Replacement": "False",
                "Scope": ["Properties"],
                "Details": [
                    {
                        "Target": {
                            "Attribute": "Properties", "Name": "MemorySize",
                            "RequiresRecreation": "Never", "Path": "/Properties/MemorySize",
                            "BeforeValue": "1024", "AfterValue": "2048",
                            "AttributeChangeType": "Modify",
                        },
                        "Evaluation": "Static", "ChangeSource": "ParameterReference",
                        "CausingEntity": "MemorySize",
                    },
                    {
                        "Target": {
                            "Attribute": "Properties", "Name": "Environment",
                            "RequiresRecreation": "Never",
                            "Path": "/Properties/Environment/Variables/GATEWAY_JWT_SECRET_ARN",
                            "BeforeValue": "",
                            "AfterValue": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:jwt-AbC",
                            "AttributeChangeType": "Modify",
                        },
                        "Evaluation": "Static", "ChangeSource": "ParameterReference",
                        "CausingEntity": "JwtSecretArn",
                    },
                ],
            },
        }
    ]  # fmt: skip
    rows = [r.render() for r in diff.property_changes(changes, {"JwtSecretArn"})]
    assert rows == [
        "Function /Properties/MemorySize: 1024 → 2048",
        "Function /Properties/Environment/Variables/GATEWAY_JWT_SECRET_ARN: **** → ****",
    ]


def test_only_the_needed_capabilities_are_requested(template):
    assert changeset.capabilities(template) == ["CAPABILITY_IAM"]
    named = {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "x"}}}}
    assert changeset.capabilities(named) == ["CAPABILITY_NAMED_IAM"]
    nested = {"Resources": {"S": {"Type": "AWS::CloudFormation::Stack"}}}
    assert changeset.capabilities(nested) == ["CAPABILITY_AUTO_EXPAND"]


@pytest.mark.parametrize(
    "value",
    ["1024", "", 'say "hi"', "back\\slash", "tab\there", "é→✓", "a = b # not a comment", "[x]"],
)
def test_saved_parameters_read_back_exactly(tmp_path, value):
    config = tmp_path / "opskit.toml"
    shutil.copy(ROOT / "opskit.toml", config)
    for env_name in ("dev", "staging", "brand-new"):
        saved.save_parameters(config, env_name, {"MemorySize": value, "Odd.Key": value})
        document = tomllib.loads(config.read_text())
        params = document["env"][env_name]["parameters"]
        assert params["MemorySize"] == value and params["Odd.Key"] == value
    # The other environments' tables are untouched, and a second save replaces in place.
    assert document["env"]["prod"]["parameters"]["LogRetentionDays"] == "30"
    before = config.read_text().count("MemorySize")
    saved.save_parameters(config, "dev", {"MemorySize": "2048"})
    assert config.read_text().count("MemorySize") == before
    assert tomllib.loads(config.read_text())["env"]["dev"]["parameters"]["MemorySize"] == "2048"
