"""The local-only template transform: what it drops, substitutes and keeps, on the real template."""

from __future__ import annotations

import hashlib
from pathlib import Path

from opskit.deploy.template import parse_template
from opskit.local.transform import references, to_local

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "cloudformation" / "gateway.yaml"


def test_drops_what_moto_cannot_run_and_whatever_references_it():
    before = hashlib.sha256(TEMPLATE.read_bytes()).hexdigest()
    template = parse_template(TEMPLATE.read_text())
    local = to_local(template, "http://127.0.0.1:4321")
    resources = local.template["Resources"]
    assert not [n for n, r in resources.items() if r["Type"].startswith("AWS::ApiGatewayV2::")]
    assert not [
        n
        for n, r in resources.items()
        if r["Type"] in {"AWS::CloudWatch::Alarm", "AWS::Budgets::Budget"}
    ]
    assert (
        local.dropped["HttpApi"] == "AWS::ApiGatewayV2::Api is not provided by the local emulator"
    )
    assert local.dropped["ApiInvokePermission"] == "references HttpApi"
    # Nothing left refers to a dropped resource (moto answers HTTP 500 on that).
    for name, resource in resources.items():
        assert not references(resource) & set(local.dropped), name
    for name, output in local.template["Outputs"].items():
        assert not references(output) & set(local.dropped), name
    assert local.template["Outputs"]["ApiUrl"]["Value"] == "http://127.0.0.1:4321"
    assert local.template["Outputs"]["ApiId"]["Value"] == "local"
    assert {"Function", "RateLimitTable", "SessionsTable", "FunctionLogGroup"} <= set(resources)
    assert template["Resources"]["HttpApi"]["Type"] == "AWS::ApiGatewayV2::Api"  # input untouched
    assert hashlib.sha256(TEMPLATE.read_bytes()).hexdigest() == before  # file untouched


def test_references_understands_ref_getatt_and_sub():
    node = {
        "A": {"Ref": "One"},
        "B": {"Fn::GetAtt": ["Two", "Arn"]},
        "C": {"Fn::GetAtt": "Three.Arn"},
        "D": {"Fn::Sub": "arn:${AWS::Partition}:x:${Four}/${Five.Arn}"},
        "E": {"Fn::Sub": ["${X}", {"X": {"Ref": "Six"}}]},
    }
    # Pseudo parameters (AWS::Partition) and the Sub's own variables (X) are not resources.
    assert references(node) == {"One", "Two", "Three", "Four", "Five", "Six"}


def test_alarms_budgets_and_dependson_are_cleaned():
    template = {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic"},
            "Alarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {"AlarmActions": [{"Ref": "Topic"}]},
            },
            "Budget": {"Type": "AWS::Budgets::Budget", "Properties": {}},
            "Queue": {"Type": "AWS::SQS::Queue", "DependsOn": ["Alarm", "Topic"]},
            "Other": {"Type": "AWS::SQS::Queue", "DependsOn": "Budget"},
        },
        "Outputs": {
            "AlarmName": {"Value": {"Ref": "Alarm"}},
            "TopicArn": {"Value": {"Ref": "Topic"}},
        },
    }
    local = to_local(template, None)
    assert set(local.template["Resources"]) == {"Topic", "Queue", "Other"}
    assert local.template["Resources"]["Queue"]["DependsOn"] == ["Topic"]
    assert "DependsOn" not in local.template["Resources"]["Other"]
    assert local.template["Outputs"] == {"TopicArn": {"Value": {"Ref": "Topic"}}}
    assert local.notes() == [
        "not provided by the emulator, dropped: Alarm, Budget",
        "outputs dropped: AlarmName",
    ]


def test_changed_tables_and_log_groups_keep_their_deployed_definition():
    deployed = {
        "Resources": {
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {"BillingMode": "PAY_PER_REQUEST"},
            },
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}},
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"MemorySize": 512}},
        }
    }
    new = {
        "Resources": {
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {"BillingMode": "PROVISIONED"}},
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}},
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"MemorySize": 1024}},
        }
    }
    local = to_local(new, None, deployed)
    assert local.kept == ["Table"]
    assert local.template["Resources"]["Table"] == deployed["Resources"]["Table"]
    assert (
        local.template["Resources"]["Fn"]["Properties"]["MemorySize"] == 1024
    )  # updatable: applied
