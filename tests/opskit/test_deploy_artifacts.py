"""The artifact bucket against the moto server: owner checks, TLS-only policy, lifecycle, name."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import botocore.exceptions
import pytest

from opskit.config import load_environment
from opskit.deploy import artifacts

ACCOUNT = "123456789012"  # moto's account


class Package:
    def __init__(self, path: Path):
        self.path = path
        self.sha256 = "ab" * 32


@pytest.fixture
def s3(moto):
    return boto3.client("s3", endpoint_url=moto, region_name="us-east-1")


def test_every_s3_call_but_create_and_list_names_the_expected_owner(s3, tmp_path):
    calls: list[tuple[str, dict]] = []
    s3.meta.events.register(
        "provide-client-params.s3.*",
        lambda params, model, **kw: calls.append((model.name, dict(params))),
    )
    env = load_environment("dev", Path(__file__).resolve().parents[2] / "opskit.toml")
    bucket = artifacts.resolve_bucket(lambda: s3, ACCOUNT, env, None)
    assert re.fullmatch(r"opskit-artifacts-us-east-1-[0-9a-f]{16}", bucket.name)
    assert artifacts.ensure_bucket(s3, bucket, "us-east-1", tls_only=False)
    zip_path = tmp_path / "p.zip"
    zip_path.write_bytes(b"zip")
    assert artifacts.upload_artifact(s3, bucket, Package(zip_path)).uploaded
    assert not artifacts.upload_artifact(s3, bucket, Package(zip_path)).uploaded
    artifacts.upload_template(s3, bucket, "us-east-1", "x" * 60_000)
    # The next deploy finds the same bucket again (ListBuckets lists only our own).
    assert artifacts.resolve_bucket(lambda: s3, ACCOUNT, env, None) == bucket
    names = {name for name, _ in calls}
    assert {"HeadBucket", "PutBucketPolicy", "PutObject", "HeadObject"} - names == {
        "PutBucketPolicy"
    }
    for name, params in calls:
        if name in {"CreateBucket", "ListBuckets"}:  # no such parameter on these
            continue
        assert params.get("ExpectedBucketOwner") == ACCOUNT, name
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket.name)["Rules"]
    assert rules[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert rules[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


def test_the_tls_only_policy_denies_plain_http(s3):
    """moto evaluates bucket policies: over its plain-HTTP endpoint the policy must deny."""
    bucket = artifacts.Bucket("opskit-artifacts-us-east-1-00112233aabbccdd", ACCOUNT)
    artifacts.ensure_bucket(s3, bucket, "us-east-1", tls_only=True)
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket.name)["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.put_object(Bucket=bucket.name, Key="k", Body=b"x")
    assert info.value.response["Error"]["Code"] in {"AccessDenied", "403"}
