"""`cost prices --refresh`: the Price List API through botocore's Stubber (moto has no
`pricing` service). PriceList items follow the documented GetProducts shape: JSON strings
with product.attributes and terms.OnDemand.*.priceDimensions (beginRange/endRange/pricePerUnit)."""

from __future__ import annotations

import json
from datetime import date

import boto3
import pytest
from botocore.stub import ANY, Stubber

from opskit.cost.refresh import SPECS, refresh_prices, save_refreshed
from opskit.errors import AwsError
from opskit.pricing import load_prices


def product(sku: str, usagetype: str, dims: list[tuple[str, str, str]], group: str = "") -> str:
    return json.dumps(
        {
            "product": {
                "productFamily": "Serverless",
                "sku": sku,
                "attributes": {"usagetype": usagetype, "group": group, "regionCode": "us-east-1"},
            },
            "serviceCode": "X",
            "terms": {
                "OnDemand": {
                    f"{sku}.JRTCKXETXF": {
                        "priceDimensions": {
                            f"{sku}.JRTCKXETXF.{i}": {
                                "unit": "u",
                                "beginRange": b,
                                "endRange": e,
                                "pricePerUnit": {"USD": p},
                                "description": "d",
                            }
                            for i, (b, e, p) in enumerate(dims)
                        }
                    }
                }
            },
            "version": "20261101",
            "publicationDate": "2026-11-01T00:00:00Z",
        }
    )


PRODUCTS = {
    "lambda_requests": [
        product("L1", "USE1-Request", [("0", "Inf", "0.0000002500")], "AWS-Lambda-Requests")
    ],
    "lambda_gbs_x86_64": [
        product(
            "L2",
            "USE1-Lambda-GB-Second",
            [
                ("0", "6000000000", "0.0000166667"),
                ("6000000000", "15000000000", "0.0000150000"),
                ("15000000000", "Inf", "0.0000133334"),
            ],
            "AWS-Lambda-Duration",
        )
    ],
    "apigw_http_requests": [
        product(
            "A0", "USE1-ApiGatewayRequest", [("0", "Inf", "0.0000035")]
        ),  # REST: must not match
        product(
            "A1",
            "USE1-ApiGatewayHttpRequest",
            [("0", "300000000", "0.0000010000"), ("300000000", "Inf", "0.0000009000")],
        ),
    ],
    "dynamodb_storage": [
        product(
            "D1",
            "USE1-TimedStorage-ByteHrs",
            [("0", "25", "0.0000000000"), ("25", "Inf", "0.2500000000")],
        )
    ],
}


def test_refresh_diffs_and_saves(tmp_path):
    client = boto3.client("pricing", region_name="us-east-1")
    stub = Stubber(client)
    for spec in SPECS:
        items = PRODUCTS.get(spec.key, [])
        if spec.key == "lambda_gbs_x86_64":  # two pages: the token must be followed
            stub.add_response(
                "get_products",
                {"PriceList": [], "NextToken": "n", "FormatVersion": "aws_v1"},
                {
                    "ServiceCode": "AWSLambda",
                    "Filters": ANY,
                    "FormatVersion": "aws_v1",
                    "MaxResults": 100,
                },
            )
            stub.add_response(
                "get_products",
                {"PriceList": items, "FormatVersion": "aws_v1"},
                {
                    "ServiceCode": "AWSLambda",
                    "Filters": ANY,
                    "FormatVersion": "aws_v1",
                    "MaxResults": 100,
                    "NextToken": "n",
                },
            )
            continue
        expected = {
            "ServiceCode": spec.service_code,
            "Filters": ANY,
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
        }
        stub.add_response("get_products", {"PriceList": items, "FormatVersion": "aws_v1"}, expected)
    current = load_prices()
    with stub:
        document, rows = refresh_prices(client, current, "us-east-1", date(2026, 11, 24))
    stub.assert_no_pending_responses()
    changes = {r["rate"]: r for r in rows}
    assert (
        changes["lambda_requests"]["new"] == pytest.approx(0.25)
        and changes["lambda_requests"]["change"] == "+25.0%"
    )
    assert changes["lambda_gbs_x86_64"]["change"] == "unchanged"
    assert changes["apigw_http_requests"]["change"] == "unchanged"  # the HTTP SKU, not REST's $3.50
    assert changes["dynamodb_storage"]["change"] == "unchanged"  # the free 25 GB tier is dropped
    assert changes["xray_traces_recorded"]["change"].startswith("not found")
    assert set(document["rates"]) == {
        "lambda_requests",
        "lambda_gbs_x86_64",
        "apigw_http_requests",
        "dynamodb_storage",
    }
    assert document["rates"]["lambda_requests"]["source"].startswith(
        "AWS Price List API GetProducts AWSLambda sku L1"
    )
    assert document["rates"]["lambda_requests"]["as_of"] == "2026-11-24"
    save_refreshed(tmp_path, "us-east-1", document)
    table = load_prices("us-east-1", tmp_path)
    assert table.rate("lambda_requests").first_price == pytest.approx(0.25)
    assert (
        table.rate("xray_traces_recorded").source == current.rate("xray_traces_recorded").source
    )  # kept from the bundle


def test_refresh_access_denied_names_the_action():
    client = boto3.client("pricing", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error(
        "get_products",
        service_error_code="AccessDeniedException",
        service_message="denied",
        http_status_code=400,
    )
    with stub, pytest.raises(AwsError, match="pricing:GetProducts"):
        refresh_prices(client, load_prices(), "us-east-1", date(2026, 11, 24))
