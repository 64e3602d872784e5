"""Deploy paths moto cannot reproduce, against botocore's Stubber.

moto applies stacks synchronously, never rolls back, emits no per-resource events
and has no drift detection, so rollback states (ROLLBACK_COMPLETE,
UPDATE_ROLLBACK_FAILED), waiting on *_IN_PROGRESS, failure reasons (nested stacks
included) and drift are tested here with response shapes from the CloudFormation
API reference (DescribeStacks, DescribeStackEvents, DescribeChangeSet,
DetectStackDrift, DescribeStackResourceDrifts).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from botocore.stub import ANY, Stubber
from click.testing import CliRunner
from rich.console import Console

from opskit.app import App
from opskit.aws import ClientFactory
from opskit.cli import cli
from opskit.config import load_environment
from opskit.deploy.artifacts import CachedPackage
from opskit.deploy.service import Timer, preflight
from opskit.errors import EXIT_ABORTED, EXIT_DEPLOY_FAILED, Aborted
from opskit.terminal import Terminal

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
ACCOUNT = "111122223333"
STACK = "opskit-dev"
STACK_ID = (
    f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{STACK}/5b4a1c80-2a2b-11ef-9f1a-0a1b2c3d4e5f"
)
NESTED_ID = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{STACK}-ApiStack-1ABC/6c5b2d90-2a2b-11ef-8e2b-0a1b2c3d4e5f"


class FakeClock:
    def __init__(self, step: float = 5.0):
        self.now, self.step = T0, timedelta(seconds=step)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


class RecordingUI:
    def __init__(self, answer: bool = True):
        self.answer = answer
        self.notes: list[str] = []
        self.questions: list[str] = []
        self.ticks: list[tuple[str, float]] = []
        self.events: list[dict] = []

    def note(self, message):
        self.notes.append(message)

    def confirm(self, question):
        self.questions.append(question)
        return self.answer

    def waiting(self, status, elapsed):
        self.ticks.append((status, elapsed))

    def plan(self, change_set, parameters, properties):
        pass

    def event(self, event, elapsed):
        self.events.append(event)


def stack(status: str, **extra) -> dict:
    return {
        "Stacks": [
            {
                "StackId": STACK_ID,
                "StackName": STACK,
                "CreationTime": T0,
                "StackStatus": status,
                "Capabilities": ["CAPABILITY_IAM"],
                **extra,
            }
        ]
    }


def missing(stubber: Stubber, name: str = STACK) -> None:
    stubber.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {name} does not exist",
        http_status_code=400,
    )


def event(
    logical: str,
    rtype: str,
    status: str,
    reason: str = "",
    *,
    minute: int,
    stack_id=STACK_ID,
    stack_name=STACK,
    physical=None,
) -> dict:
    e = {
        "StackId": stack_id,
        "EventId": f"{logical}-{status}-{minute}",
        "StackName": stack_name,
        "LogicalResourceId": logical,
        "PhysicalResourceId": physical or f"{logical.lower()}-physical",
        "ResourceType": rtype,
        "Timestamp": T0 + timedelta(minutes=minute),
        "ResourceStatus": status,
    }
    if reason:
        e["ResourceStatusReason"] = reason
    return e


@pytest.fixture
def factory() -> ClientFactory:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return ClientFactory("us-east-1", session=session)


@pytest.fixture
def env(tmp_path, monkeypatch):
    config = tmp_path / "opskit.toml"
    shutil.copy(ROOT / "opskit.toml", config)
    (tmp_path / "cloudformation").mkdir()
    shutil.copy(
        ROOT / "cloudformation" / "gateway.yaml", tmp_path / "cloudformation" / "gateway.yaml"
    )
    monkeypatch.chdir(tmp_path)
    return load_environment("dev", config)


def run_preflight(cfn, env, ui, assume_yes=False):
    clock = FakeClock()
    return preflight(
        cfn, env, ui, sleep=lambda s: None, timer=Timer(clock), assume_yes=assume_yes, timeout=3600
    )


def test_rollback_complete_is_deleted_and_recreated_when_confirmed(factory, env):
    cfn = factory.client("cloudformation")
    ui = RecordingUI(answer=True)
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"), {"StackName": STACK})
        stub.add_response("delete_stack", {}, {"StackName": STACK})
        stub.add_response("describe_stacks", stack("DELETE_IN_PROGRESS"), {"StackName": STACK})
        missing(stub)
        assert run_preflight(cfn, env, ui) == "CREATE"
        stub.assert_no_pending_responses()
    assert ui.questions == [
        f"Stack {STACK} is ROLLBACK_COMPLETE (its first create failed) and cannot be updated. "
        "Delete it and create it again? (tables retained from an earlier stack are kept "
        "and re-adopted)"
    ]
    assert ui.ticks == [("DELETE_IN_PROGRESS", 5.0)]  # one 5 s clock step after the start


def test_rollback_complete_declined_aborts_without_deleting(factory, env):
    cfn = factory.client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"), {"StackName": STACK})
        with pytest.raises(Aborted) as info:
            run_preflight(cfn, env, RecordingUI(answer=False))
        stub.assert_no_pending_responses()  # no delete_stack was called
    assert info.value.exit_code == EXIT_ABORTED
    assert info.value.format_line() == (
        f"stack {STACK} is ROLLBACK_COMPLETE: not deleted (rerun with --yes, or fix it in the console)"
    )


def test_update_rollback_failed_continues_the_rollback(factory, env):
    cfn = factory.client("cloudformation")
    ui = RecordingUI(answer=True)
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_ROLLBACK_FAILED"), {"StackName": STACK})
        stub.add_response("continue_update_rollback", {}, {"StackName": STACK})
        stub.add_response(
            "describe_stacks", stack("UPDATE_ROLLBACK_IN_PROGRESS"), {"StackName": STACK}
        )
        stub.add_response(
            "describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": STACK}
        )
        stub.add_response(
            "describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": STACK}
        )
        assert run_preflight(cfn, env, ui) == "UPDATE"
        stub.assert_no_pending_responses()
    assert ui.questions[0].startswith(
        f"Stack {STACK} is UPDATE_ROLLBACK_FAILED. Continue the rollback"
    )
    assert ui.notes == [f"Continuing the rollback of {STACK} ..."]


def test_in_progress_waits_with_elapsed_time_then_updates(factory, env):
    cfn = factory.client("cloudformation")
    ui = RecordingUI()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"), {"StackName": STACK})
        stub.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"), {"StackName": STACK})
        stub.add_response(
            "describe_stacks", stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"), {"StackName": STACK}
        )
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": STACK})
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": STACK})
        assert run_preflight(cfn, env, ui) == "UPDATE"
    assert ui.notes == [f"Stack {STACK} is UPDATE_IN_PROGRESS: waiting for it to finish."]
    assert [status for status, _ in ui.ticks] == [
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    ]
    assert [elapsed for _, elapsed in ui.ticks] == sorted(elapsed for _, elapsed in ui.ticks)
    assert ui.ticks[-1][1] > ui.ticks[0][1] > 0


def test_review_in_progress_is_treated_as_new(factory, env):
    cfn = factory.client("cloudformation")
    ui = RecordingUI()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack("REVIEW_IN_PROGRESS"), {"StackName": STACK})
        assert run_preflight(cfn, env, ui) == "CREATE"
        stub.assert_no_pending_responses()
    assert ui.notes == [
        f"Stack {STACK} is REVIEW_IN_PROGRESS (never executed): treating it as new."
    ]


def make_app(env, factory, packager=None) -> App:
    terminal = Terminal(
        console=Console(highlight=False, soft_wrap=False, width=200),
        err_console=Console(stderr=True, highlight=False, width=200),
    )
    return App(
        env=env,
        terminal=terminal,
        clock=FakeClock(2.0),
        sleep=lambda s: None,
        _clients=factory,
        packager=packager,
    )


def test_failed_update_reports_the_nested_root_cause_and_exits_6(factory, env, tmp_path):
    zip_path = tmp_path / "gateway.zip"
    zip_path.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    sha = "0" * 63 + "1"

    def packager(env, architecture):  # injected through App: no monkeypatching
        return CachedPackage(zip_path, sha, 22, True)

    sts, cfn, s3 = (factory.client(s) for s in ("sts", "cloudformation", "s3"))
    bucket = f"opskit-artifacts-{ACCOUNT}-us-east-1"
    old = [
        event(STACK, "AWS::CloudFormation::Stack", "UPDATE_COMPLETE", minute=0, physical=STACK_ID)
    ]
    cs_arn = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:changeSet/opskit-x/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    first = [
        event(
            "ApiStack",
            "AWS::CloudFormation::Stack",
            "UPDATE_IN_PROGRESS",
            minute=2,
            physical=NESTED_ID,
        ),
        event("Function", "AWS::Lambda::Function", "UPDATE_COMPLETE", minute=2),
        event("Function", "AWS::Lambda::Function", "UPDATE_IN_PROGRESS", minute=1),
        event(
            STACK,
            "AWS::CloudFormation::Stack",
            "UPDATE_IN_PROGRESS",
            "User Initiated",
            minute=1,
            physical=STACK_ID,
        ),
    ]
    second = [
        event(
            STACK,
            "AWS::CloudFormation::Stack",
            "UPDATE_ROLLBACK_COMPLETE",
            minute=6,
            physical=STACK_ID,
        ),
        event("Function", "AWS::Lambda::Function", "UPDATE_COMPLETE", minute=5),
        event(
            STACK,
            "AWS::CloudFormation::Stack",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to update: [ApiStack].",
            minute=4,
            physical=STACK_ID,
        ),  # fmt: skip
        event(
            "ApiStack",
            "AWS::CloudFormation::Stack",
            "UPDATE_FAILED",
            f"Embedded stack {NESTED_ID} was not successfully updated. Currently in "
            "UPDATE_ROLLBACK_IN_PROGRESS with reason: The following resource(s) failed to create: [Route].",
            minute=3,
            physical=NESTED_ID,
        ),  # fmt: skip
    ]
    nested = [
        event(
            "Route",
            "AWS::ApiGatewayV2::Route",
            "CREATE_FAILED",
            "Resource creation cancelled",
            minute=4,
            stack_id=NESTED_ID,
            stack_name=f"{STACK}-ApiStack-1ABC",
        ),  # fmt: skip
        event(
            "Route",
            "AWS::ApiGatewayV2::Route",
            "CREATE_FAILED",
            'Resource handler returned message: "Invalid route key: GET//x" (HandlerErrorCode: InvalidRequest)',
            minute=3,
            stack_id=NESTED_ID,
            stack_name=f"{STACK}-ApiStack-1ABC",
        ),  # fmt: skip
    ]
    change_set = {
        "ChangeSetName": "opskit-x",
        "ChangeSetId": cs_arn,
        "StackId": STACK_ID,
        "StackName": STACK,
        "ExecutionStatus": "AVAILABLE",
        "Status": "CREATE_COMPLETE",
        "Changes": [
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "Function",
                    "PhysicalResourceId": f"{STACK}-gateway",
                    "ResourceType": "AWS::Lambda::Function",
                    "Replacement": "False",
                    "Scope": ["Properties"],
                    "Details": [],
                },
            },
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "ApiStack",
                    "PhysicalResourceId": NESTED_ID,
                    "ResourceType": "AWS::CloudFormation::Stack",
                    "Replacement": "Conditional",
                    "Scope": ["Properties"],
                    "Details": [],
                },
            },
        ],  # fmt: skip
    }
    with Stubber(sts) as s_sts, Stubber(cfn) as s_cfn, Stubber(s3) as s_s3:
        s_sts.add_response(
            "get_caller_identity",
            {
                "UserId": "AIDAEXAMPLE",
                "Account": ACCOUNT,
                "Arn": f"arn:aws:iam::{ACCOUNT}:user/dev",
            },
        )
        deployed = stack(
            "UPDATE_COMPLETE",
            Parameters=[{"ParameterKey": "ArtifactBucket", "ParameterValue": bucket}],
        )
        s_cfn.add_response("describe_stacks", deployed, {"StackName": STACK})
        s_cfn.add_response("describe_stacks", deployed, {"StackName": STACK})
        s_cfn.add_response(
            "create_change_set",
            {"Id": cs_arn, "StackId": STACK_ID},
            {"StackName": STACK, "ChangeSetName": ANY, "ChangeSetType": "UPDATE", "Parameters": ANY,
             "Capabilities": ["CAPABILITY_IAM"], "Tags": [{"Key": "Environment", "Value": "dev"}, {"Key": "Project", "Value": "opskit"}],
             "Description": ANY, "TemplateBody": (env.root / "cloudformation" / "gateway.yaml").read_text()},
        )  # fmt: skip
        described = {"StackName": STACK, "ChangeSetName": ANY, "IncludePropertyValues": True}
        s_cfn.add_response(
            "describe_change_set",
            {**change_set, "Status": "CREATE_IN_PROGRESS", "Changes": []},
            described,
        )
        s_cfn.add_response("describe_change_set", change_set, described)
        # The bucket the stack already uses (its ArtifactBucket parameter), owner checked.
        s_s3.add_response("head_bucket", {}, {"Bucket": bucket, "ExpectedBucketOwner": ACCOUNT})
        s_s3.add_client_error(
            "head_object",
            service_error_code="404",
            service_message="Not Found",
            http_status_code=404,
            expected_params={
                "Bucket": bucket,
                "Key": f"gateway/{sha}.zip",
                "ExpectedBucketOwner": ACCOUNT,
            },
        )
        s_s3.add_response(
            "put_object",
            {"ETag": '"9b2cf535f27731c974343645a3985328"'},
            {
                "Bucket": bucket,
                "Key": f"gateway/{sha}.zip",
                "Body": ANY,
                "ServerSideEncryption": "AES256",
                "Metadata": {"sha256": sha},
                "ExpectedBucketOwner": ACCOUNT,
            },
        )
        s_cfn.add_response("describe_stack_events", {"StackEvents": old}, {"StackName": STACK})
        s_cfn.add_response("execute_change_set", {}, {"StackName": STACK, "ChangeSetName": ANY})
        s_cfn.add_response(
            "describe_stack_events", {"StackEvents": first + old}, {"StackName": STACK}
        )
        s_cfn.add_response("describe_stacks", stack("UPDATE_IN_PROGRESS"), {"StackName": STACK})
        s_cfn.add_response(
            "describe_stack_events", {"StackEvents": second + first + old}, {"StackName": STACK}
        )
        s_cfn.add_response(
            "describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": STACK}
        )
        s_cfn.add_response(
            "describe_stack_events", {"StackEvents": second + first + old}, {"StackName": STACK}
        )
        s_cfn.add_response(
            "describe_stack_events", {"StackEvents": nested}, {"StackName": NESTED_ID}
        )
        result = CliRunner().invoke(cli, ["deploy", "--yes"], obj=make_app(env, factory, packager))
        s_cfn.assert_no_pending_responses()
    assert result.exit_code == EXIT_DEPLOY_FAILED, result.output
    assert result.stderr.splitlines()[-1] == (
        f"Error: deploy of {STACK} failed: ApiStack > Route (AWS::ApiGatewayV2::Route) CREATE_FAILED: "
        'Resource handler returned message: "Invalid route key: GET//x" (HandlerErrorCode: InvalidRequest); '
        "stack is now UPDATE_ROLLBACK_COMPLETE; rolled back: Function "
        "(fix the resource named above and deploy again)"
    )
    # Every new event was streamed (plain lines: not a terminal), oldest first.
    streamed = [
        line for line in result.stderr.splitlines() if "AWS::" in line and "Error:" not in line
    ]
    assert [line.split()[1:4] for line in streamed] == [
        [STACK, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS"],
        ["Function", "AWS::Lambda::Function", "UPDATE_IN_PROGRESS"],
        ["Function", "AWS::Lambda::Function", "UPDATE_COMPLETE"],
        ["ApiStack", "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS"],
        ["ApiStack", "AWS::CloudFormation::Stack", "UPDATE_FAILED"],
        [STACK, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_IN_PROGRESS"],
        ["Function", "AWS::Lambda::Function", "UPDATE_COMPLETE"],
        [STACK, "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_COMPLETE"],
    ]
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert [[c.strip() for c in r.split("│")[1:5]] for r in rows] == [
        ["Modify", "Function", "AWS::Lambda::Function", "False"],
        ["Modify", "ApiStack", "AWS::CloudFormation::Stack", "Conditional"],
    ]


def test_status_drift_lists_drifted_resources(factory, env):
    cfn = factory.client("cloudformation")
    detection = "2f9b3a40-2a2c-11ef-b5a8-0a1b2c3d4e5f"
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            stack(
                "UPDATE_COMPLETE",
                Outputs=[
                    {
                        "OutputKey": "ApiUrl",
                        "OutputValue": "https://abc123.execute-api.us-east-1.amazonaws.com",
                    }
                ],
            ),
            {"StackName": STACK},
        )
        stub.add_response("list_stack_resources", {"StackResourceSummaries": [
            {"LogicalResourceId": "RateLimitTable", "PhysicalResourceId": f"{STACK}-RateLimitTable-1Q2W3E", "ResourceType": "AWS::DynamoDB::Table",
             "LastUpdatedTimestamp": T0, "ResourceStatus": "CREATE_COMPLETE"}]}, {"StackName": STACK})  # fmt: skip
        stub.add_response(
            "describe_stack_events",
            {
                "StackEvents": [
                    event(
                        STACK,
                        "AWS::CloudFormation::Stack",
                        "UPDATE_COMPLETE",
                        minute=9,
                        physical=STACK_ID,
                    )
                ]
            },
            {"StackName": STACK},
        )
        stub.add_response(
            "detect_stack_drift", {"StackDriftDetectionId": detection}, {"StackName": STACK}
        )
        in_progress = {
            "StackId": STACK_ID,
            "StackDriftDetectionId": detection,
            "DetectionStatus": "DETECTION_IN_PROGRESS",
            "Timestamp": T0,
        }
        stub.add_response(
            "describe_stack_drift_detection_status",
            in_progress,
            {"StackDriftDetectionId": detection},
        )
        done = {
            **in_progress,
            "DetectionStatus": "DETECTION_COMPLETE",
            "StackDriftStatus": "DRIFTED",
            "DriftedStackResourceCount": 1,
        }
        stub.add_response(
            "describe_stack_drift_detection_status", done, {"StackDriftDetectionId": detection}
        )
        stub.add_response("describe_stack_resource_drifts", {"StackResourceDrifts": [{
            "StackId": STACK_ID, "LogicalResourceId": "RateLimitTable", "PhysicalResourceId": f"{STACK}-RateLimitTable-1Q2W3E",
            "ResourceType": "AWS::DynamoDB::Table", "ExpectedProperties": "{}", "ActualProperties": "{}",
            "PropertyDifferences": [{"PropertyPath": "/PointInTimeRecoverySpecification/PointInTimeRecoveryEnabled",
                                     "ExpectedValue": "true", "ActualValue": "false", "DifferenceType": "NOT_EQUAL"}],
            "StackResourceDriftStatus": "MODIFIED", "Timestamp": T0}]},
            {"StackName": STACK, "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]})  # fmt: skip
        result = CliRunner().invoke(cli, ["status", "--drift"], obj=make_app(env, factory))
        stub.assert_no_pending_responses()
    assert result.exit_code == 0, result.output
    assert "Drift: DRIFTED (1 resources drifted)" in result.stdout.splitlines()
    rows = [
        [c.strip() for c in line.split("│")[1:-1]]
        for line in result.stdout.splitlines()
        if line.startswith("│")
    ]
    assert ["ApiUrl", "https://abc123.execute-api.us-east-1.amazonaws.com"] in rows
    assert [
        "RateLimitTable", "AWS::DynamoDB::Table", "MODIFIED",
        "/PointInTimeRecoverySpecification/PointInTimeRecoveryEnabled (not_equal)",
    ] in rows  # fmt: skip


YAML_TEMPLATE = """
Resources:
  RateLimitTable:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      TableName: !Sub ${AWS::StackName}-rate-limits
  Bucket:
    Type: AWS::S3::Bucket
"""


def test_failed_destroy_names_the_resource_and_keeps_tables(factory, env, monkeypatch):
    # The extras (alarms, dashboard, topic, budget) are listed and removed against moto in
    # test_deploy_trust.py; here the stack's own failure is what is under test.
    import opskit.deploy.destroy as destroy_module

    monkeypatch.setattr(destroy_module, "managed_extras", lambda clients, env: [])
    cfn = factory.client("cloudformation")
    old = [
        event(STACK, "AWS::CloudFormation::Stack", "UPDATE_COMPLETE", minute=0, physical=STACK_ID)
    ]
    new = [
        event(STACK, "AWS::CloudFormation::Stack", "DELETE_FAILED",
              "The following resource(s) failed to delete: [Bucket].", minute=3, physical=STACK_ID),
        event("Bucket", "AWS::S3::Bucket", "DELETE_FAILED",
              "The bucket you tried to delete is not empty", minute=2),
        event("RateLimitTable", "AWS::DynamoDB::Table", "DELETE_SKIPPED", minute=2),
        event(STACK, "AWS::CloudFormation::Stack", "DELETE_IN_PROGRESS", "User Initiated", minute=1, physical=STACK_ID),
    ]  # fmt: skip
    summaries = [
        {"LogicalResourceId": "RateLimitTable", "PhysicalResourceId": f"{STACK}-rate-limits",
         "ResourceType": "AWS::DynamoDB::Table", "LastUpdatedTimestamp": T0, "ResourceStatus": "CREATE_COMPLETE"},
        {"LogicalResourceId": "Bucket", "PhysicalResourceId": f"{STACK}-bucket-1x2y3z",
         "ResourceType": "AWS::S3::Bucket", "LastUpdatedTimestamp": T0, "ResourceStatus": "CREATE_COMPLETE"},
    ]  # fmt: skip
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": STACK})
        stub.add_response(
            "get_template",
            {"TemplateBody": YAML_TEMPLATE, "StagesAvailable": ["Original", "Processed"]},
            {"StackName": STACK},
        )
        stub.add_response(
            "list_stack_resources", {"StackResourceSummaries": summaries}, {"StackName": STACK}
        )
        declined = CliRunner().invoke(cli, ["destroy"], obj=make_app(env, factory))
        stub.assert_no_pending_responses()
    assert declined.exit_code == EXIT_ABORTED
    assert declined.stderr.splitlines() == [
        f"To delete: stack {STACK} and every resource in it except these.",
        f"  Kept: {STACK}-rate-limits (AWS::DynamoDB::Table): retained, re-adopted by the next deploy",
        "  Kept: the artifact bucket (shared by every environment; holds rollback zips)",
        "Error: destroy cancelled: the stack was not deleted (rerun with --yes to delete without asking)",
    ]
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", stack("UPDATE_COMPLETE"), {"StackName": STACK})
        stub.add_response("get_template", {"TemplateBody": YAML_TEMPLATE}, {"StackName": STACK})
        stub.add_response(
            "list_stack_resources", {"StackResourceSummaries": summaries}, {"StackName": STACK}
        )
        stub.add_response("describe_stack_events", {"StackEvents": old}, {"StackName": STACK})
        stub.add_response("delete_stack", {}, {"StackName": STACK})
        stub.add_response("describe_stack_events", {"StackEvents": new + old}, {"StackName": STACK})
        stub.add_response("describe_stacks", stack("DELETE_FAILED"), {"StackName": STACK})
        result = CliRunner().invoke(cli, ["destroy", "--yes"], obj=make_app(env, factory))
        stub.assert_no_pending_responses()  # and no DynamoDB call exists to delete a table
    assert result.exit_code == EXIT_DEPLOY_FAILED
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        f"Error: destroy of {STACK} failed: Bucket (AWS::S3::Bucket) DELETE_FAILED: "
        "The bucket you tried to delete is not empty; stack is now DELETE_FAILED "
        "(fix or empty the resource named above, then `opskit --env dev destroy` again)"
    )
