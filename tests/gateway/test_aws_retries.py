"""The AWS client retries as botocore's standard mode does; botocore (installed) is the oracle.

Three levels: the verdict on one attempt and the backoff delay (botocore's own classes on the
same inputs), the modelled-error table (botocore's service models), and whole calls (botocore's
client and ours against the same scripted faults of tests/gateway/faulty_aws.py, counting the
attempts that reach the front).
"""

from __future__ import annotations

import asyncio
import zlib

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError
from botocore.retries import standard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import aws
from gateway.http_client import HttpClient
from tests.gateway.faulty_aws import FaultyAws

OPERATIONS = sorted(aws.MODELLED_ERRORS)
_SESSION = botocore.session.get_session()


def op_model(service: str, operation: str):
    return _SESSION.get_service_model(service).operation_model(operation)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: object):
        yield self.body


def boto_context(
    service,
    operation,
    status,
    code,
    connection_error=False,
    crc_bad=False,
    retry_after=None,
    attempt=1,
):
    if connection_error:
        return standard.RetryContext(
            attempt_number=attempt,
            operation_model=op_model(service, operation),
            caught_exception=ConnectionClosedError(endpoint_url="http://127.0.0.1"),
        )
    body = b'{"__type":"x"}'
    headers = {}
    if crc_bad:
        headers["x-amz-crc32"] = str((zlib.crc32(body) + 1) & 0xFFFFFFFF)
    if retry_after is not None:
        headers["x-amz-retry-after"] = retry_after
    return standard.RetryContext(
        attempt_number=attempt,
        operation_model=op_model(service, operation),
        parsed_response={"Error": {"Code": code}} if code is not None else {},
        http_response=AWSResponse("http://127.0.0.1/", status, headers, _Raw(body)),
    )


def botocore_verdict(ctx) -> str | None:
    retryable = standard.StandardRetryConditions(max_attempts=10).is_retryable(ctx)
    if not retryable:
        return None
    detector = standard.ThrottlingErrorDetector(standard.RetryEventAdapter())
    return "throttling" if detector.is_throttling_error_from_context(ctx) else "transient"


def test_modelled_error_table_is_botocores() -> None:
    for service, operation in OPERATIONS:
        shapes = op_model(service, operation).error_shapes
        expected = {}
        for shape in shapes:
            trait = shape.metadata.get("retryable")
            code = shape.metadata.get("error", {}).get("code") or shape.name
            expected[code] = (
                None
                if trait is None
                else ("throttling" if trait.get("throttling") else "transient")
            )
        assert aws.MODELLED_ERRORS[(service, operation)] == expected, (service, operation)


def test_code_lists_are_botocores() -> None:
    assert set(standard.ThrottledRetryableChecker._THROTTLED_ERROR_CODES) == aws.THROTTLING_CODES
    assert set(standard.TransientRetryableChecker._TRANSIENT_ERROR_CODES) == aws.TRANSIENT_CODES
    assert set(standard.TransientRetryableChecker._TRANSIENT_STATUS_CODES) == aws.TRANSIENT_STATUSES
    assert standard._SERVICE_MAX_ATTEMPTS["dynamodb"] == aws.MAX_ATTEMPTS["dynamodb"]
    assert standard.DEFAULT_MAX_ATTEMPTS == aws.DEFAULT_MAX_ATTEMPTS
    assert standard.RetryQuotaChecker._RETRY_COST == aws.RETRY_COST
    assert standard.RetryQuotaChecker._THROTTLING_RETRY_COST == aws.THROTTLING_RETRY_COST
    assert standard.RetryQuotaChecker._NO_RETRY_INCREMENT == aws.NO_RETRY_INCREMENT


CODES = sorted(
    aws.THROTTLING_CODES
    | aws.TRANSIENT_CODES
    | {code for table in aws.MODELLED_ERRORS.values() for code in table}
    | {"ValidationException", "AccessDeniedException", "UnrecognizedClientException", "Weird"}
)
STATUSES = [400, 403, 404, 413, 429, 500, 501, 502, 503, 504, 505]


@pytest.mark.parametrize(("service", "operation"), OPERATIONS)
def test_verdicts_match_botocore(service: str, operation: str) -> None:
    checked = 0
    for code in [None, *CODES]:
        for status in STATUSES:
            for crc_bad in (False, True):
                ours = aws.classify(service, operation, status, code, checksum_failed=crc_bad)
                theirs = botocore_verdict(
                    boto_context(service, operation, status, code, crc_bad=crc_bad)
                )
                assert ours == theirs, (operation, code, status, crc_bad)
                checked += 1
    assert aws.classify(service, operation, None, None, connection_error=True) == botocore_verdict(
        boto_context(service, operation, None, None, connection_error=True)
    )
    assert checked > 600


@given(
    attempt=st.integers(1, 12),
    r=st.floats(0, 1),
    code=st.sampled_from(
        [
            "ThrottlingException",
            "InternalServerError",
            "ProvisionedThroughputExceededException",
            None,
        ]
    ),
    status=st.sampled_from([400, 429, 500, 503]),
    retry_after=st.one_of(
        st.none(),
        st.sampled_from(["0", "1500", "-5", "abc", "30000", "99999999999999999999"]),
        st.integers(0, 60_000).map(str),
    ),
    service=st.sampled_from(["dynamodb", "secretsmanager"]),
)
@settings(max_examples=400, deadline=None)
def test_backoff_matches_botocore(attempt, r, code, status, retry_after, service) -> None:
    operation = "UpdateItem" if service == "dynamodb" else "GetSecretValue"
    ctx = boto_context(service, operation, status, code, retry_after=retry_after, attempt=attempt)
    detector = standard.ThrottlingErrorDetector(standard.RetryEventAdapter())
    theirs = standard.ExponentialBackoff(
        random=lambda: r, service_name=service, throttling_detector=detector
    ).delay_amount(ctx)
    throttling = detector.is_throttling_error_from_context(ctx)
    ours = aws.backoff_delay(attempt, throttling, service, lambda: r, retry_after)
    assert ours == pytest.approx(theirs, abs=1e-12)


# -- whole calls against the same faults --------------------------------------------------
FAULTS = ["ok", "throttle", "throttling", "429", "500", "503", "reset", "crc"]


@pytest.fixture(scope="module")
def tables_front(moto_server: str):
    import requests

    from tests.gateway.support import create_tables

    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    create_tables(moto_server)
    with FaultyAws(moto_server) as front:
        yield front


def run_botocore(front: FaultyAws, monkeypatch_sleep) -> tuple[str, int]:
    client = boto3.client(
        "dynamodb",
        endpoint_url=front.url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard"}, connect_timeout=2, read_timeout=5),
    )
    try:
        client.get_item(TableName="gw-sessions", Key={"session_id": {"S": "nope"}})
        outcome = "ok"
    except ClientError as exc:
        outcome = (
            exc.response["Error"]["Code"]
            or f"HTTP {exc.response['ResponseMetadata']['HTTPStatusCode']}"
        )
    except Exception as exc:  # connection errors and checksum failures
        outcome = type(exc).__name__
    return outcome, front.count("GetItem")


def run_ours(front: FaultyAws) -> tuple[str, int]:
    async def call() -> str:
        http = HttpClient()
        client = aws.dynamodb_client(
            http,
            "us-east-1",
            {
                "AWS_ENDPOINT_URL": front.url,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            },
            rand=lambda: 0.0,
        )
        try:
            await client.call(
                "GetItem", {"TableName": "gw-sessions", "Key": {"session_id": {"S": "nope"}}}
            )
            return "ok"
        except aws.AwsCallError as exc:
            return exc.code
        except aws.AwsUnavailable:
            return "unavailable"
        finally:
            await http.aclose()

    outcome = asyncio.run(call())
    return outcome, front.count("GetItem")


@given(script=st.lists(st.sampled_from(FAULTS), min_size=1, max_size=5))
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_attempts_match_botocore(tables_front: FaultyAws, monkeypatch, script: list[str]) -> None:
    """botocore's client and ours, each against the same script of faults: the same number of
    attempts reach AWS, and both end in success or both in failure."""
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda s: None)
    results = []
    for runner in (lambda: run_botocore(tables_front, None), lambda: run_ours(tables_front)):
        tables_front.clear()
        for fault in script:
            if fault != "ok":
                tables_front.plan(fault, "GetItem")
            else:
                tables_front.plan("forward", "GetItem")
        results.append(runner())
    (boto_outcome, boto_attempts), (our_outcome, our_attempts) = results
    assert our_attempts == boto_attempts, (script, results)
    last = script[boto_attempts - 1] if boto_attempts <= len(script) else "ok"
    if last == "crc":
        # The one deliberate difference: when the last attempt's body fails its x-amz-crc32,
        # botocore returns it as a success; the gateway refuses a corrupted answer.
        assert boto_outcome == "ok" and our_outcome == "unavailable"
    else:
        assert (our_outcome == "ok") == (boto_outcome == "ok"), (script, results)
    if boto_outcome in aws.THROTTLING_CODES:
        assert our_outcome == boto_outcome


def test_retry_quota_drains_like_botocores() -> None:
    """A long outage: botocore's quota stops retrying after 500/14 retries; ours too."""
    theirs = standard.RetryQuotaChecker(standard.quota.RetryQuota())
    ctx = boto_context("dynamodb", "GetItem", 500, "InternalServerError")
    boto_retries = 0
    while theirs.acquire_retry_quota(ctx):
        boto_retries += 1
    ours = aws.RetryQuota()
    our_retries = 0
    while ours.acquire(aws.RETRY_COST):
        our_retries += 1
    assert our_retries == boto_retries == 35


def test_retry_stops_when_the_backoff_would_pass_the_deadline() -> None:
    """Not botocore: every sleep is bounded by the request's remaining time."""
    sleeps: list[float] = []

    async def pretend(s: float) -> None:
        sleeps.append(s)

    async def really(s: float) -> None:
        sleeps.append(s)
        await asyncio.sleep(s)

    async def call(budget: float | None) -> int:
        with FaultyAws("http://127.0.0.1:9") as front:
            front.plan("throttle", None, times=-1)
            http = HttpClient()
            env = {
                "AWS_ENDPOINT_URL": front.url,
                "AWS_ACCESS_KEY_ID": "k",
                "AWS_SECRET_ACCESS_KEY": "s",
            }
            sleep = pretend if budget is None else really
            client = aws.dynamodb_client(http, "us-east-1", env, rand=lambda: 1.0, sleep=sleep)
            with pytest.raises(aws.AwsThrottled):
                if budget is None:
                    await client.call("GetItem", {})
                else:
                    with aws.request_deadline(budget):
                        await client.call("GetItem", {})
            await http.aclose()
            return front.count("GetItem")

    assert asyncio.run(call(None)) == 4 and sleeps == [1.0, 2.0, 4.0]
    sleeps.clear()
    # 2.5 s: the 1 s backoff fits, the next 2 s one would end past the deadline
    assert asyncio.run(call(2.5)) == 2 and sleeps == [1.0]
