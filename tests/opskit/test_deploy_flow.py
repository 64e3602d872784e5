"""`opskit deploy/status/destroy --env local` against the moto server over HTTP (CliRunner).

The package step is replaced by a zip built once per session (the real builder runs
pip; it has its own tests): the flow under test is change sets, upload, events, outputs.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
import shutil
import time
import zipfile
from pathlib import Path

import boto3
import pytest
import yaml
from click.testing import CliRunner

import opskit.commands.deploy_cmd as deploy_cmd
from opskit.cli import cli
from opskit.deploy.artifacts import CachedPackage
from opskit.deploy.template import parse_template
from opskit.errors import EXIT_ABORTED, EXIT_CONFIG, EXIT_NOT_FOUND, EXIT_USAGE
from opskit.local.transform import to_local

ROOT = Path(__file__).resolve().parents[2]
STACK = "opskit-local"
WIDE = {"COLUMNS": "200"}


@pytest.fixture(scope="session")
def package_zip(tmp_path_factory) -> CachedPackage:
    """A deterministic zip of the gateway sources, built once per test session."""
    path = tmp_path_factory.mktemp("pkg") / "gateway.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for source in sorted((ROOT / "gateway").rglob("*.py")):
            info = zipfile.ZipInfo(str(source.relative_to(ROOT)), date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, source.read_bytes())
    data = path.read_bytes()
    return CachedPackage(path, hashlib.sha256(data).hexdigest(), len(data), cached=True)


@pytest.fixture
def project(local_env, monkeypatch, package_zip) -> Path:
    """A temp project with the real template; deploy's package step returns `package_zip`."""
    (local_env / "cloudformation").mkdir()
    shutil.copy(
        ROOT / "cloudformation" / "gateway.yaml", local_env / "cloudformation" / "gateway.yaml"
    )
    monkeypatch.setattr(deploy_cmd, "make_package", lambda app, architecture: package_zip)
    return local_env


def run(*args: str):
    return CliRunner().invoke(cli, ["--env", "local", *args], env=WIDE)


def aws(moto, service):
    return boto3.client(service, endpoint_url=moto, region_name="us-east-1")


def table_rows(output: str) -> list[list[str]]:
    """The body rows of a Rich table as lists of cell texts."""
    return [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def plan_rows() -> list[list[str]]:
    """What a first local deploy of the real template adds: every resource the emulator runs.

    Derived from the template (it evolves in parallel) and checked against moto's change set.
    """
    template = parse_template((ROOT / "cloudformation" / "gateway.yaml").read_text())
    local = to_local(template, None).template["Resources"]
    conditional = {n for n, r in local.items() if "Condition" in r}
    rows = [["Add", name, r["Type"], ""] for name, r in local.items() if name not in conditional]
    assert ["Add", "Function", "AWS::Lambda::Function", ""] in rows
    assert ["Add", "RateLimitTable", "AWS::DynamoDB::Table", ""] in rows
    return rows


def test_plan_shows_the_change_set_and_leaves_nothing_behind(project, moto):
    result = run("deploy", "--plan")
    assert result.exit_code == 0, result.output
    expected = plan_rows()
    assert table_rows(result.stdout) == expected
    assert (
        result.stdout.splitlines()[-1]
        == f"Plan only: change set not executed ({len(expected)} changes)."
    )
    cfn, s3 = aws(moto, "cloudformation"), aws(moto, "s3")
    assert [s["StackStatus"] for s in cfn.list_stacks()["StackSummaries"]] == ["DELETE_COMPLETE"]
    assert s3.list_buckets()["Buckets"] == []  # --plan uploads nothing
    assert (
        "local emulator: not provided by the emulator, dropped: HttpApi, LambdaIntegration"
        in result.stderr
    )


def test_non_interactive_deploy_without_yes_aborts(project, moto):
    result = run("deploy")
    assert result.exit_code == EXIT_ABORTED
    assert result.stderr.splitlines()[-1] == (
        "Error: deploy cancelled: the change set was not executed "
        "(rerun with --yes to deploy without asking)"
    )
    assert aws(moto, "s3").list_buckets()["Buckets"] == []


def test_create_update_noop_destroy(project, moto, package_zip, monkeypatch):
    cfn, s3, lam, ddb = (aws(moto, s) for s in ("cloudformation", "s3", "lambda", "dynamodb"))

    created = run("deploy", "--yes")
    assert created.exit_code == 0, created.output
    expected = plan_rows()
    assert table_rows(created.stdout)[: len(expected)] == expected
    assert f"Stack {STACK}: CREATE_COMPLETE." in created.stdout.splitlines()
    # The artifact bucket has an unguessable name (squatting), found again by ListBuckets.
    [bucket] = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert re.fullmatch(r"opskit-artifacts-us-east-1-[0-9a-f]{16}", bucket)
    key = f"gateway/{package_zip.sha256}.zip"
    assert f"Uploaded s3://{bucket}/{key}" in created.stderr.splitlines()
    assert "opskit-local  AWS::CloudFormation::Stack  CREATE_COMPLETE" in created.stderr
    # The artifact bucket is created safely.
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    # The function runs the uploaded zip; outputs are real (moto's change-set path has none).
    function = lam.get_function_configuration(FunctionName=f"{STACK}-gateway")
    assert function["CodeSha256"] == base64.b64encode(bytes.fromhex(package_zip.sha256)).decode()
    assert function["MemorySize"] == 512
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in cfn.describe_stacks(StackName=STACK)["Stacks"][0]["Outputs"]
    }
    assert outputs["FunctionName"] == f"{STACK}-gateway"
    assert outputs["ApiId"] == "local"
    for name, value in outputs.items():
        assert [name, value] in table_rows(created.stdout)

    updated = run(
        "--output", "json", "deploy", "--yes", "--parameter", "MemorySize=1024", "--no-smoke-test"
    )
    assert updated.exit_code == 0, updated.output
    summary = json.loads(updated.stdout)
    assert (summary["outcome"], summary["status"]) == ("updated", "UPDATE_COMPLETE")
    assert summary["outputs"] == outputs
    assert f"Artifact already in s3://{bucket}/{key}: upload skipped" in updated.stderr
    assert lam.get_function_configuration(FunctionName=f"{STACK}-gateway")["MemorySize"] == 1024

    started = time.perf_counter()
    noop = run("deploy", "--yes", "--parameter", "MemorySize=1024")
    assert time.perf_counter() - started < 3
    assert noop.exit_code == 0, noop.output
    assert noop.stdout == f"No changes: stack {STACK} is up to date (UPDATE_COMPLETE).\n"
    assert "Upload" not in noop.stderr and "upload" not in noop.stderr
    assert cfn.list_change_sets(StackName=STACK)["Summaries"] == []  # the empty one is removed

    # New code: a new content-hash key is uploaded and the function runs it.
    new_zip = project / "new.zip"
    with zipfile.ZipFile(new_zip, "w") as archive:
        archive.writestr("gateway/__init__.py", "VERSION = 2\n")
    new_sha = hashlib.sha256(new_zip.read_bytes()).hexdigest()
    new_package = CachedPackage(new_zip, new_sha, new_zip.stat().st_size, cached=False)
    monkeypatch.setattr(deploy_cmd, "make_package", lambda app, architecture: new_package)
    code = run("deploy", "--yes", "--parameter", "MemorySize=1024", "--no-smoke-test")
    assert code.exit_code == 0, code.output
    assert f"Uploaded s3://{bucket}/gateway/{new_sha}.zip" in code.stderr.splitlines()
    function = lam.get_function_configuration(FunctionName=f"{STACK}-gateway")
    assert function["CodeSha256"] == base64.b64encode(bytes.fromhex(new_sha)).decode()

    tables = ddb.list_tables()["TableNames"]
    assert len(tables) == 2
    declined = run("destroy")
    assert declined.exit_code == EXIT_ABORTED
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    destroyed = run("destroy", "--yes")
    assert destroyed.exit_code == 0, destroyed.output
    lines = destroyed.stdout.splitlines()
    assert lines[0] == f"Deleted stack {STACK}."
    assert sorted(lines[1:3]) == sorted(
        f"Retained (DeletionPolicy, data kept): {t} (AWS::DynamoDB::Table)" for t in tables
    )
    assert ddb.list_tables()["TableNames"] == tables  # data tables are never deleted
    gone = run("status")
    assert gone.exit_code == EXIT_NOT_FOUND
    assert gone.stderr == (
        f"Error: stack {STACK} not found: it was never deployed here, or it was deleted "
        "(deploy it with `opskit --env local deploy` (or pick another --env/--region))\n"
    )


def test_status_shows_state_outputs_resources_and_events(project, moto):
    assert run("deploy", "--yes", "--no-smoke-test").exit_code == 0
    result = run("status")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Stack {STACK}: CREATE_COMPLETE, last changed ")
    rows = table_rows(result.stdout)
    assert ["FunctionName", f"{STACK}-gateway"] in rows
    assert ["Function", "AWS::Lambda::Function", "CREATE_COMPLETE", f"{STACK}-gateway"] in rows
    assert any(r[1:3] == [STACK, "CREATE_COMPLETE"] for r in rows)
    drift = run("status", "--drift")
    assert drift.exit_code == 8  # EXIT_LOCAL
    assert "drift detection is not available on the local account" in drift.stderr


def test_unknown_parameters_are_config_errors_and_malformed_ones_usage_errors(project, moto):
    result = run("deploy", "--parameter", "Memory=1")
    assert result.exit_code == EXIT_CONFIG
    assert result.stderr.startswith(
        "Error: unknown parameter Memory: the template does not declare it (declared: "
    )
    result = run("deploy", "--parameter", "oops")
    assert result.exit_code == EXIT_USAGE
    assert result.stderr.startswith(
        "Error: Invalid value for '--parameter' / '-p': 'oops': expected KEY=VALUE "
        "(e.g. -p MemorySize=1024)"
    )
    assert len(result.stderr.splitlines()) == 1


def test_a_missing_template_is_not_found(project, moto):
    result = run("deploy", "--plan", "--template", "nope.yaml")
    assert result.exit_code == EXIT_NOT_FOUND
    assert result.stderr.startswith(f"Error: template {project / 'nope.yaml'} not found: ")


def test_a_machine_readable_plan_is_the_one_document_on_stdout(project, moto):
    """An update's plan: "Change set ...: no resource-level changes listed", "Parameters:"
    and the other human lines stay off stdout in json, yaml and csv."""
    assert run("deploy", "--yes", "--no-smoke-test", "--no-lint").exit_code == 0
    human = run("deploy", "--plan", "--no-lint", "-p", "RateLimit=50/60")
    assert "Parameters:" in human.stdout  # what must not reach a machine-readable stdout
    for output in ("json", "yaml", "csv"):
        result = run("deploy", "--plan", "--no-lint", "-p", "RateLimit=50/60", "-o", output)
        assert result.exit_code == 0, result.output
        if output == "json":
            document = json.loads(result.stdout)
        elif output == "yaml":
            document = yaml.safe_load(result.stdout)
        else:
            rows = list(csv.reader(io.StringIO(result.stdout)))
            assert rows[0] == ["key", "value"] and all(len(row) == 2 for row in rows), rows
            document = dict(rows[1:])
        assert document["outcome"] == "planned", output
        assert "Parameters:" not in result.stdout and "Change set " not in result.stdout
        if output == "csv":
            keys = re.compile(r"parameter_changes\.\d+\.key")
            changed = {v for k, v in document.items() if keys.fullmatch(k)}
        else:
            changed = {change["key"] for change in document["parameter_changes"]}
        assert "RateLimit" in changed, output  # the parameter diff is in the document


def test_changed_table_is_kept_as_deployed_locally(project, moto):
    assert run("deploy", "--yes", "--no-smoke-test").exit_code == 0
    template = project / "cloudformation" / "gateway.yaml"
    text = template.read_text()
    marker = "        - { Key: Environment, Value: !Ref Environment }\n"
    assert marker in text  # the first one is RateLimitTable's
    template.write_text(text.replace(marker, marker + "        - { Key: Owner, Value: team }\n", 1))
    result = run("deploy", "--yes", "--no-smoke-test", "--parameter", "Timeout=20")
    assert result.exit_code == 0, result.output
    assert (
        "local emulator: kept RateLimitTable as deployed: the emulator cannot update it in place "
        "(destroy and deploy again to recreate it)"
    ) in result.stderr
    resources = aws(moto, "cloudformation").list_stack_resources(StackName=STACK)[
        "StackResourceSummaries"
    ]
    assert "RateLimitTable" in {r["LogicalResourceId"] for r in resources}


def test_a_parameter_value_the_template_refuses_stops_before_any_change_set(project, moto):
    result = run("deploy", "--plan", "-p", "Timeout=31")
    assert result.exit_code == EXIT_USAGE, result.output
    assert "parameter Timeout='31' (-p): must be from 1 to 30" in result.stderr
    assert aws(moto, "cloudformation").list_stacks()["StackSummaries"] == []
    config = project / "opskit.toml"
    config.write_text(
        config.read_text().replace(
            "[env.local.parameters]", '[env.local.parameters]\nLogRetentionDays = "2"'
        )
    )
    from_file = run("deploy", "--plan")
    assert from_file.exit_code == EXIT_CONFIG, from_file.output
    assert (
        "LogRetentionDays='2' (opskit.toml parameters): must be one of 1, 3, 5" in from_file.stderr
    )


def test_a_refused_parameter_costs_no_package_build_and_no_aws_call(project, moto, monkeypatch):
    built: list[str] = []
    monkeypatch.setattr(deploy_cmd, "make_package", lambda app, arch: built.append(arch))
    result = run("deploy", "--plan", "--no-lint", "-p", "MemorySize=64")
    assert result.exit_code == EXIT_USAGE, result.output
    assert built == []  # checked before the (slow, first-run) build
    assert aws(moto, "cloudformation").list_stacks()["StackSummaries"] == []
