"""cloudformation/gateway.yaml: real cfn-lint and checkov runs, plus the contract's structure."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "cloudformation" / "gateway.yaml"
BIN = Path(sys.executable).parent

CONTRACT_OUTPUTS = {
    "ApiUrl",
    "ApiId",
    "FunctionName",
    "RateLimitTableName",
    "SessionsTableName",
    "FunctionLogGroupName",
    "AccessLogGroupName",
}
CONTRACT_PARAMETERS = {
    "MemorySize",
    "Timeout",
    "Architecture",
    "LogRetentionDays",
    "RateLimit",
    "EnablePointInTimeRecovery",
    "ArtifactBucket",
    "ArtifactKey",
    "JwtSecretArn",
    "UpstreamUsersUrl",
    "UpstreamProductsUrl",
    "UpstreamOrdersUrl",
    "Environment",
    "Project",
    "ThrottlingBurstLimit",
    "ThrottlingRateLimit",
    "DomainName",
    "CertificateArn",
    "HostedZoneId",
}
CONTRACT_ENV_VARS = {
    "GATEWAY_JWT_SECRET",
    "GATEWAY_JWT_SECRET_ARN",
    "GATEWAY_JWT_PUBLIC_KEY",
    "GATEWAY_JWKS_URL",
    "GATEWAY_JWT_AUDIENCE",
    "GATEWAY_JWT_ISSUER",
    "GATEWAY_RATE_LIMIT_TABLE",
    "GATEWAY_SESSIONS_TABLE",
    "GATEWAY_RATE_LIMIT",
    "GATEWAY_RATE_LIMIT_FAILURE_MODE",
    "GATEWAY_UPSTREAM_USERS",
    "GATEWAY_UPSTREAM_PRODUCTS",
    "GATEWAY_UPSTREAM_ORDERS",
    "GATEWAY_CORS_ORIGINS",
    "GATEWAY_TRACING",
    "GATEWAY_LOG_LEVEL",
    "POWERTOOLS_SERVICE_NAME",
    "AWS_ENDPOINT_URL",
}
# Field -> $context variable. Each variable is one the API Gateway developer guide lists
# for HTTP API access logging ("Customizing HTTP API access logs"); integration.requestId
# is the Lambda request id, the join to the function's REPORT line.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTimeEpoch": "$context.requestTimeEpoch",
    "httpMethod": "$context.httpMethod",
    "path": "$context.path",
    "routeKey": "$context.routeKey",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integration.status",
    "integrationRequestId": "$context.integration.requestId",
    "integrationError": "$context.integration.error",
    "integrationErrorMessage": "$context.integrationErrorMessage",
    "errorMessage": "$context.error.message",
    "errorResponseType": "$context.error.responseType",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
}
# Every resource type in the template must be in one of these two sets, so adding a
# resource forces a decision about its tags.
TAGGABLE = {
    "AWS::DynamoDB::Table",
    "AWS::Logs::LogGroup",
    "AWS::IAM::Role",
    "AWS::Lambda::Function",
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Stage",
    "AWS::ApiGatewayV2::DomainName",
}
NOT_TAGGABLE = {
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::ApiMapping",
    "AWS::Lambda::Permission",
    "AWS::Route53::RecordSet",
}
# Actions that do not support resource-level permissions (IAM service authorization
# reference): the only place Resource "*" is allowed.
RESOURCELESS_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# What the gateway calls, read from its source (`ddb.call("Action", ...)` or `ddb.call_body(...)`), so the role and the
# code cannot drift apart: the role must allow exactly these, no more.
GATEWAY_DIR = Path(__file__).resolve().parents[2] / "gateway"
DDB_CALL = re.compile(r'ddb\.call\w*\(\s*"(\w+)"')


def ddb_actions_in(*modules: str) -> set[str]:
    found = set()
    for module in modules:
        found |= {f"dynamodb:{a}" for a in DDB_CALL.findall((GATEWAY_DIR / module).read_text())}
    return found


# /health/ready (gateway/app.py) describes both tables.
RATE_LIMIT_ACTIONS = ddb_actions_in("ratelimit.py") | {"dynamodb:DescribeTable"}
SESSION_ACTIONS = ddb_actions_in("sessions.py") | {"dynamodb:DescribeTable"}


def test_gateway_calls_are_the_expected_ones():
    assert ddb_actions_in("app.py") == {"dynamodb:DescribeTable"}
    assert RATE_LIMIT_ACTIONS == {"dynamodb:UpdateItem", "dynamodb:DescribeTable"}
    assert "dynamodb:BatchWriteItem" in SESSION_ACTIONS


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return cfn_yaml.load(str(TEMPLATE))


def resources_of(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    role = template["Resources"]["FunctionRole"]["Properties"]
    found = []
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:  # conditional statement: [condition, then, else]
                statement = statement["Fn::If"][1]
            found.append(statement)
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ------------------------------------------------------------------ real tools


def run_cfn_lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "cfn-lint"), "--format", "parseable", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cfn_lint_reports_no_errors_and_no_warnings():
    proc = run_cfn_lint(TEMPLATE)
    assert proc.stdout.strip() == "", proc.stdout
    assert proc.returncode == 0, proc.stderr


def test_cfn_lint_really_checks_this_template(tmp_path):
    """The lint run above is meaningful: a broken copy of the template is reported."""
    broken = tmp_path / "broken.yaml"
    text = TEMPLATE.read_text().replace("Runtime: python3.12", "Runtime: python2.1")
    broken.write_text(text.replace("MemorySize: !Ref MemorySize", "MemorySize: !Ref NoSuchParam"))
    proc = run_cfn_lint(broken)
    assert proc.returncode != 0
    assert "python2.1" in proc.stdout
    assert "NoSuchParam" in proc.stdout


@pytest.fixture(scope="module")
def checkov_report(tmp_path_factory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("checkov")
    shutil.copy(TEMPLATE, workdir / "gateway.yaml")
    proc = subprocess.run(
        [
            str(BIN / "checkov"),
            "--file",
            str(workdir / "gateway.yaml"),
            "--framework",
            "cloudformation",
            "--skip-download",  # no network: the built-in policies only
            "--output",
            "json",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=180,
        cwd=workdir,
    )
    assert proc.stdout.strip(), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    report["returncode"] = proc.returncode
    return report


def template_skips(template: dict[str, Any]) -> dict[tuple[str, str], str]:
    skips = {}
    for logical_id, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            skips[(logical_id, skip["id"])] = skip.get("comment", "")
    return skips


def test_checkov_passes(checkov_report):
    summary = checkov_report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']}" for c in checkov_report["results"]["failed_checks"]
    ]
    assert failed == []
    assert summary["failed"] == 0
    assert summary["passed"] >= 10
    assert checkov_report["returncode"] == 0


def test_every_checkov_skip_is_justified_and_used(template, checkov_report):
    skips = template_skips(template)
    assert skips, "the template documents its checkov skips"
    for (logical_id, check_id), comment in skips.items():
        assert len(comment.split()) >= 12, f"{logical_id} {check_id}: justify the skip"
    skipped = {
        (c["resource"].split(".", 1)[1], c["check_id"])
        for c in checkov_report["results"]["skipped_checks"]
    }
    # no stale skips (for checks that do not apply) and nothing skipped without a comment
    assert skipped == set(skips)


def test_checkov_still_catches_what_the_skips_cover(tmp_path):
    """Without the skip metadata, the skipped checks really fail (the skips are not dead)."""
    text = TEMPLATE.read_text()
    stripped = re.sub(r"    Metadata:\n      checkov:\n(?:        .*\n|          .*\n)+", "", text)
    assert "checkov" not in stripped.split("Resources:", 1)[1]
    (tmp_path / "gateway.yaml").write_text(stripped)
    proc = subprocess.run(
        [str(BIN / "checkov"), "--file", str(tmp_path / "gateway.yaml"),
         "--framework", "cloudformation", "--skip-download", "--output", "json"],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )  # fmt: skip
    report = json.loads(proc.stdout)
    failed = {c["check_id"] for c in report["results"]["failed_checks"]}
    assert {"CKV_AWS_28", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_158"} <= failed
    assert proc.returncode != 0


# ------------------------------------------------------------------ structure


def test_outputs_follow_the_contract(template):
    outputs = template["Outputs"]
    assert set(outputs) >= CONTRACT_OUTPUTS
    # The custom domain when set (the execute-api endpoint is then disabled).
    assert outputs["ApiUrl"]["Value"] == {
        "Fn::If": [
            "HasCustomDomain",
            {"Fn::Sub": "https://${DomainName}"},
            {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]},
        ]
    }
    assert outputs["ApiId"]["Value"] == {"Ref": "HttpApi"}
    assert outputs["FunctionName"]["Value"] == {"Ref": "Function"}
    assert outputs["RateLimitTableName"]["Value"] == {"Ref": "RateLimitTable"}
    assert outputs["SessionsTableName"]["Value"] == {"Ref": "SessionsTable"}
    assert outputs["FunctionLogGroupName"]["Value"] == {"Ref": "FunctionLogGroup"}
    assert outputs["AccessLogGroupName"]["Value"] == {"Ref": "AccessLogGroup"}
    for name in CONTRACT_OUTPUTS:
        assert "Condition" not in outputs[name], f"{name} must always exist"


def test_contract_parameters_and_defaults(template):
    params = template["Parameters"]
    assert set(params) >= CONTRACT_PARAMETERS
    assert params["Architecture"]["Default"] == "arm64"
    assert set(params["Architecture"]["AllowedValues"]) == {"arm64", "x86_64"}
    assert params["MemorySize"]["Default"] == 512
    assert params["Timeout"]["Default"] == 30
    assert params["LogRetentionDays"]["Default"] == 7
    assert params["ThrottlingBurstLimit"]["Default"] == 5000
    assert params["ThrottlingRateLimit"]["Default"] == 2000
    assert params["EnablePointInTimeRecovery"]["AllowedValues"] == ["true", "false"]
    assert "Default" not in params["ArtifactBucket"] and "Default" not in params["ArtifactKey"]


def test_no_plain_text_secret_parameter(template):
    for name, param in template["Parameters"].items():
        lowered = name.lower()
        assert not re.search(r"password|token|apikey|privatekey", lowered), name
        if "secret" in lowered:
            assert name.endswith("Arn"), f"{name}: pass a Secrets Manager ARN, not the secret"
            assert "secretsmanager" in param["AllowedPattern"]
    env = template["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    assert "GATEWAY_JWT_SECRET" not in env  # only the ARN reaches the function
    assert env["GATEWAY_JWT_SECRET_ARN"] == {"Ref": "JwtSecretArn"}


def test_tables_follow_the_contract_and_are_retained(template):
    tables = resources_of(template, "AWS::DynamoDB::Table")
    assert set(tables) == {"RateLimitTable", "SessionsTable"}
    names = {k: v["Properties"]["TableName"] for k, v in tables.items()}
    assert names == {  # from the stack name: deploy re-adopts them after a destroy
        "RateLimitTable": {"Fn::Sub": "${AWS::StackName}-rate-limits"},
        "SessionsTable": {"Fn::Sub": "${AWS::StackName}-sessions"},
    }
    for table in tables.values():
        # Kept on stack deletion and replacement; only a failed first create removes them.
        assert table["DeletionPolicy"] == "RetainExceptOnCreate"
        assert table["UpdateReplacePolicy"] == "Retain"
        props = table["Properties"]
        assert props["DeletionProtectionEnabled"] == {"Fn::If": ["ProtectTables", True, False]}
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
        assert props["SSESpecification"]["SSEEnabled"] is True
        pitr = props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        assert pitr == {"Fn::If": ["EnablePitr", True, False]}
    rate = tables["RateLimitTable"]["Properties"]
    assert rate["KeySchema"] == [
        {"AttributeName": "limiter_key", "KeyType": "HASH"},
        {"AttributeName": "window_start", "KeyType": "RANGE"},
    ]
    assert {"AttributeName": "window_start", "AttributeType": "N"} in rate["AttributeDefinitions"]
    sessions = tables["SessionsTable"]["Properties"]
    assert sessions["KeySchema"] == [{"AttributeName": "session_id", "KeyType": "HASH"}]
    (index,) = sessions["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "user_id-index"
    assert index["KeySchema"] == [{"AttributeName": "user_id", "KeyType": "HASH"}]
    assert template["Conditions"]["EnablePitr"] == {
        "Fn::Equals": [{"Ref": "EnablePointInTimeRecovery"}, "true"]
    }


def test_iam_is_least_privilege(template):
    found = statements(template)
    assert found
    for statement in found:
        assert statement["Effect"] == "Allow"
        actions = as_list(statement["Action"])
        for action in actions:
            assert "*" not in action, f"wildcard action {action}"
            assert not action.startswith(("iam:", "sts:", "kms:", "dynamodb:Scan")), action
            assert action not in {"dynamodb:DeleteTable", "dynamodb:UpdateTable"}, action
        resources = as_list(statement["Resource"])
        if "*" in resources:
            assert resources == ["*"]
            assert set(actions) <= RESOURCELESS_ACTIONS, f"{actions} can be scoped"
        for resource in resources:
            assert resource == "*" or isinstance(resource, dict), resource
    by_sid = {s["Sid"]: s for s in found}
    assert set(as_list(by_sid["RateLimitCounters"]["Action"])) == RATE_LIMIT_ACTIONS
    assert set(as_list(by_sid["Sessions"]["Action"])) == SESSION_ACTIONS
    assert as_list(by_sid["RateLimitCounters"]["Resource"]) == [
        {"Fn::GetAtt": ["RateLimitTable", "Arn"]}
    ]
    assert {"Fn::Sub": "${SessionsTable.Arn}/index/user_id-index"} in by_sid["Sessions"]["Resource"]
    assert by_sid["WriteOwnLogs"]["Resource"] == {"Fn::Sub": "${FunctionLogGroup.Arn}"}
    assert by_sid["ReadJwtSecret"] == {
        "Sid": "ReadJwtSecret",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": {"Ref": "JwtSecretArn"},
    }
    role = template["Resources"]["FunctionRole"]["Properties"]
    assert "ManagedPolicyArns" not in role
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust[0]["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_secret_statement_is_conditional(template):
    role = template["Resources"]["FunctionRole"]["Properties"]
    raw = role["Policies"][0]["PolicyDocument"]["Statement"]
    conditional = [s for s in raw if "Fn::If" in s]
    assert len(conditional) == 1
    condition, _, otherwise = conditional[0]["Fn::If"]
    assert condition == "HasJwtSecret"
    assert otherwise == {"Ref": "AWS::NoValue"}


def test_function(template):
    function = template["Resources"]["Function"]
    props = function["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Handler"] == "gateway.handler.handler"
    assert props["Architectures"] == [{"Ref": "Architecture"}]
    assert props["Code"] == {"S3Bucket": {"Ref": "ArtifactBucket"}, "S3Key": {"Ref": "ArtifactKey"}}
    assert props["MemorySize"] == {"Ref": "MemorySize"}
    assert props["Timeout"] == {"Ref": "Timeout"}
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-gateway"}
    env = props["Environment"]["Variables"]
    assert set(env) <= CONTRACT_ENV_VARS
    assert env["GATEWAY_RATE_LIMIT_TABLE"] == {"Ref": "RateLimitTable"}
    assert env["GATEWAY_SESSIONS_TABLE"] == {"Ref": "SessionsTable"}
    assert env["GATEWAY_RATE_LIMIT"] == {"Ref": "RateLimit"}
    assert env["GATEWAY_UPSTREAM_USERS"] == {"Ref": "UpstreamUsersUrl"}
    assert env["GATEWAY_UPSTREAM_PRODUCTS"] == {"Ref": "UpstreamProductsUrl"}
    assert env["GATEWAY_UPSTREAM_ORDERS"] == {"Ref": "UpstreamOrdersUrl"}
    assert env["GATEWAY_TRACING"] == "on"
    assert "AWS_ENDPOINT_URL" not in env  # local emulator only
    assert function["DependsOn"] == "FunctionLogGroup"


def test_log_groups(template):
    groups = resources_of(template, "AWS::Logs::LogGroup")
    names = {k: v["Properties"]["LogGroupName"] for k, v in groups.items()}
    assert names == {
        "FunctionLogGroup": {"Fn::Sub": "/aws/lambda/${AWS::StackName}-gateway"},
        "AccessLogGroup": {"Fn::Sub": "/aws/apigateway/${AWS::StackName}-api"},
    }
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        # Chosen: logs are kept with the tables (and expire by retention); cfn-lint I3011.
        assert group["DeletionPolicy"] == "RetainExceptOnCreate"
        assert group["UpdateReplacePolicy"] == "Retain"


def test_http_api(template):
    api = template["Resources"]["HttpApi"]["Properties"]
    assert api["ProtocolType"] == "HTTP"
    cors = api["CorsConfiguration"]["Fn::If"]
    assert cors[0] == "HasCors" and cors[2] == {"Ref": "AWS::NoValue"}
    assert cors[1]["AllowOrigins"] == {"Fn::Split": [",", {"Ref": "CorsOrigins"}]}
    assert template["Parameters"]["CorsOrigins"]["Default"] == ""  # no wildcard by default
    assert api["DisableExecuteApiEndpoint"] == {"Fn::If": ["HasCustomDomain", True, False]}
    integration = template["Resources"]["LambdaIntegration"]["Properties"]
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["PayloadFormatVersion"] == "2.0"
    assert integration["IntegrationUri"] == {"Fn::GetAtt": ["Function", "Arn"]}
    routes = resources_of(template, "AWS::ApiGatewayV2::Route")
    assert sorted(r["Properties"]["RouteKey"] for r in routes.values()) == [
        "$default",
        "ANY /{proxy+}",
    ]
    for route in routes.values():
        assert route["Properties"]["Target"] == {"Fn::Sub": "integrations/${LambdaIntegration}"}
    stage = template["Resources"]["DefaultStage"]["Properties"]
    assert stage["StageName"] == "$default"
    assert stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
    }
    assert stage["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["AccessLogGroup", "Arn"]}
    log_format = json.loads(stage["AccessLogSettings"]["Format"])
    assert log_format == ACCESS_LOG_FIELDS


def test_invoke_permission_is_scoped_to_the_api(template):
    permission = template["Resources"]["ApiInvokePermission"]["Properties"]
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert permission["Action"] == "lambda:InvokeFunction"
    source = permission["SourceArn"]["Fn::Sub"]
    assert source.startswith("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:")
    assert source.endswith(":${HttpApi}/*")


def test_custom_domain_is_optional(template):
    condition = template["Conditions"]["HasCustomDomain"]
    assert len(condition["Fn::And"]) == 3
    for type_ in (
        "AWS::ApiGatewayV2::DomainName",
        "AWS::ApiGatewayV2::ApiMapping",
        "AWS::Route53::RecordSet",
    ):
        found = resources_of(template, type_)
        assert found
        for resource in found.values():
            assert resource["Condition"] == "HasCustomDomain"
    for name in ("DomainName", "CertificateArn", "HostedZoneId"):
        assert template["Parameters"][name]["Default"] == ""


def test_everything_taggable_is_tagged(template):
    for logical_id, resource in template["Resources"].items():
        type_ = resource["Type"]
        assert type_ in TAGGABLE | NOT_TAGGABLE, f"{logical_id}: decide whether {type_} is tagged"
        if type_ not in TAGGABLE:
            continue
        tags = resource["Properties"]["Tags"]
        if isinstance(tags, list):
            tags = {t["Key"]: t["Value"] for t in tags}
        assert tags["Project"] == {"Ref": "Project"}, logical_id
        assert tags["Environment"] == {"Ref": "Environment"}, logical_id


def test_a_jwt_key_source_is_required(template):
    """The gateway refuses to start without a key: CloudFormation rejects such a deploy."""
    (assertion,) = template["Rules"]["JwtKeyRequired"]["Assertions"]
    alternatives = assertion["Assert"]["Fn::Or"]
    refs = {alt["Fn::Not"][0]["Fn::Equals"][0]["Ref"] for alt in alternatives}
    assert refs == {"JwtSecretArn", "JwtPublicKey", "JwksUrl"}
    assert "JwtSecretArn" in assertion["AssertDescription"]


def test_custom_domain_needs_all_three_parameters_or_none(template):
    (assertion,) = template["Rules"]["CustomDomainAllOrNothing"]["Assertions"]
    every, none = assertion["Assert"]["Fn::Or"]
    names = ["DomainName", "CertificateArn", "HostedZoneId"]
    assert every == {"Fn::And": [{"Fn::Not": [{"Fn::Equals": [{"Ref": n}, ""]}]} for n in names]}
    assert none == {"Fn::And": [{"Fn::Equals": [{"Ref": n}, ""]} for n in names]}


def test_reserved_concurrency_is_a_parameter_off_by_default(template):
    param = template["Parameters"]["ReservedConcurrency"]
    assert (param["Default"], param["MinValue"]) == (-1, -1)
    assert template["Conditions"]["HasReservedConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ReservedConcurrency"}, -1]}]
    }
    function = template["Resources"]["Function"]["Properties"]
    assert function["ReservedConcurrentExecutions"] == {
        "Fn::If": [
            "HasReservedConcurrency",
            {"Ref": "ReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }
