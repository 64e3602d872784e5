"""Refreshable credentials behave like botocore's (the installed botocore is the oracle):
RefreshableCredentials' advisory/mandatory windows, and the container provider's URL rules,
headers and answer format against a real local credentials server."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from botocore.credentials import ContainerProvider, RefreshableCredentials
from botocore.exceptions import CredentialRetrievalError
from botocore.utils import ContainerMetadataFetcher

from gateway import aws
from gateway.http_client import HttpClient
from gateway.sigv4 import Credentials
from tests.gateway.faulty_aws import CredentialServer, FaultyAws

NOW = 1_800_000_000.0
REMAINING = [None, 7200, 901, 900, 899, 601, 600, 599, 1, -5]
OUTCOMES = ["fresh", "fails", "still_expired"]


def fresh_metadata(outcome: str) -> dict[str, str]:
    if outcome == "fails":
        raise RuntimeError("the credentials endpoint is down")
    expiry = NOW + (3600 if outcome == "fresh" else -1)
    return {
        "access_key": "NEW",
        "secret_key": "new-secret",
        "token": "new-token",
        "expiry_time": dt.datetime.fromtimestamp(expiry, dt.UTC).isoformat(),
    }


def botocore_result(remaining: float | None, outcome: str) -> tuple[bool, str]:
    calls = []

    def refresh() -> dict[str, str]:
        calls.append(1)
        return fresh_metadata(outcome)

    expiry = None if remaining is None else dt.datetime.fromtimestamp(NOW + remaining, dt.UTC)
    creds = RefreshableCredentials(
        "OLD", "old-secret", "old-token", expiry, refresh, "test",
        time_fetcher=lambda: dt.datetime.fromtimestamp(NOW, dt.UTC),
    )  # fmt: skip
    try:
        result = creds.get_frozen_credentials().access_key
    except Exception:
        result = "error"
    return bool(calls), result


def our_result(remaining: float | None, outcome: str) -> tuple[bool, str]:
    calls = []

    async def fetch() -> tuple[Credentials, float | None]:
        calls.append(1)
        meta = fresh_metadata(outcome)
        return Credentials(meta["access_key"], meta["secret_key"], meta["token"]), aws.parse_expiry(
            meta["expiry_time"]
        )

    creds = aws.RefreshingCredentials(fetch, "test", clock=lambda: NOW)
    creds.creds = Credentials("OLD", "old-secret", "old-token")
    creds.expiry = None if remaining is None else NOW + remaining

    async def get() -> str:
        try:
            return (await creds.get()).access_key
        except aws.CredentialsUnavailable:
            return "error"

    result = asyncio.run(get())
    return bool(calls), result


@pytest.mark.parametrize("remaining", REMAINING)
@pytest.mark.parametrize("outcome", OUTCOMES)
def test_refresh_windows_match_botocore(remaining: float | None, outcome: str) -> None:
    assert our_result(remaining, outcome) == botocore_result(remaining, outcome)


def test_advisory_refresh_in_flight_does_not_block_mandatory_does() -> None:
    """botocore: in the advisory window a caller that cannot take the refresh lock goes on with
    the current credentials; in the mandatory window it waits for the refresh."""

    async def scenario(remaining: float) -> tuple[str, str, int]:
        release = asyncio.Event()
        calls = []

        async def fetch() -> tuple[Credentials, float | None]:
            calls.append(1)
            await release.wait()
            return Credentials("NEW", "s", "t"), NOW + 3600

        creds = aws.RefreshingCredentials(fetch, "test", clock=lambda: NOW)
        creds.creds, creds.expiry = Credentials("OLD", "s", "t"), NOW + remaining
        first = asyncio.ensure_future(creds.get())
        await asyncio.sleep(0)  # the first caller starts the refresh
        second = asyncio.ensure_future(creds.get())
        await asyncio.sleep(0)
        second_done = second.done()
        release.set()
        results = await asyncio.gather(first, second)
        return (
            results[0].access_key,
            results[1].access_key if second_done or remaining < 600 else "waited",
            len(calls),
        )

    assert asyncio.run(scenario(700)) == ("NEW", "OLD", 1)  # advisory: second went on at once
    assert asyncio.run(scenario(300)) == ("NEW", "NEW", 1)  # mandatory: second waited, one fetch


URLS = [
    "http://127.0.0.1:8080/creds",
    "http://127.0.0.2/creds",
    "http://[::1]:9/creds",
    "http://localhost/creds",
    "http://169.254.170.2/v2/credentials/x",
    "http://169.254.170.23/v1/credentials",
    "http://[fd00:ec2::23]/v1/credentials",
    "https://creds.example.com/x",
    "http://creds.example.com/x",
    "http://10.0.0.1/creds",
    "ftp://127.0.0.1/creds",
]


@pytest.mark.parametrize("url", URLS)
def test_full_uri_rules_match_botocore(url: str) -> None:
    try:
        ContainerMetadataFetcher()._validate_allowed_url(url)
        theirs = True
    except ValueError:
        theirs = False
    try:
        ours = aws.container_url({"AWS_CONTAINER_CREDENTIALS_FULL_URI": url}) == url
    except aws.CredentialsUnavailable:
        ours = False
    if url.startswith("ftp://"):
        theirs = False  # botocore accepts it here and fails later when fetching; we refuse at once
    assert ours == theirs


def test_relative_uri_is_the_ecs_endpoint() -> None:
    env = {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"}
    assert aws.container_url(env) == ContainerMetadataFetcher().full_url("/v2/credentials/abc")


@pytest.mark.parametrize("via_file", [False, True])
def test_container_provider_fetches_as_botocore(tmp_path, via_file: bool) -> None:
    with FaultyAws("http://127.0.0.1:9") as front, CredentialServer(front, lifetime=3600) as server:
        env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": server.url}
        if via_file:
            path = tmp_path / "token"
            path.write_text(server.token)
            env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = str(path)
        else:
            env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = server.token
        theirs = ContainerProvider(environ=env).load()
        frozen = theirs.get_frozen_credentials()

        async def ours() -> tuple[Credentials, float | None]:
            http = HttpClient()
            try:
                return await aws.container_fetcher(http, aws.container_url(env), env)()
            finally:
                await http.aclose()

        creds, expiry = asyncio.run(ours())
        assert frozen.access_key == "ASIACONTAINER0001" and creds.access_key == "ASIACONTAINER0002"
        assert creds.token == "container-token-2" and creds.secret_key == "container-secret-2"
        assert expiry == pytest.approx(theirs._expiry_time.timestamp(), abs=2)
        boto_req, our_req = server.requests
        for name in ("authorization", "accept"):
            assert boto_req[name] == our_req[name], name


def test_container_fetch_retries_like_botocore() -> None:
    """ContainerMetadataFetcher: 3 attempts; one failed answer is retried."""
    with FaultyAws("http://127.0.0.1:9") as front, CredentialServer(front, lifetime=3600) as server:
        server.fail_next = 1
        env = server.env()

        async def ours() -> Credentials:
            http = HttpClient()
            try:
                fetch = aws.container_fetcher(
                    http, server.url, env, sleep=lambda s: asyncio.sleep(0)
                )
                return (await fetch())[0]
            finally:
                await http.aclose()

        assert asyncio.run(ours()).access_key == "ASIACONTAINER0001"
        assert len(server.requests) == 2
        server.token = "other"
        with pytest.raises(aws.CredentialsUnavailable):
            asyncio.run(ours())
        assert len(server.requests) == 5
        with pytest.raises(CredentialRetrievalError):
            ContainerProvider(
                environ=env, fetcher=ContainerMetadataFetcher(sleep=lambda s: None)
            ).load()
        assert len(server.requests) == 8


def test_chain_prefers_the_environment_then_the_container() -> None:
    http = HttpClient()
    static = aws.credential_chain(
        http,
        {
            "AWS_ACCESS_KEY_ID": "a",
            "AWS_SECRET_ACCESS_KEY": "b",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1/x",
        },
    )
    assert isinstance(static, aws.StaticCredentials)
    container = aws.credential_chain(
        http, {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1/x"}
    )
    assert isinstance(container, aws.RefreshingCredentials) and container.method == "container-role"
    assert aws.credential_chain(http, {}).method == "botocore"


def test_a_refused_container_url_is_an_error_at_first_use_not_at_init(tables, upstream) -> None:
    from tests.gateway.conftest import Gateway
    from tests.gateway.support import gateway_env, token

    env = gateway_env(tables, upstream.url, AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="",
                      AWS_CONTAINER_CREDENTIALS_FULL_URI="http://creds.invalid/creds",
                      GATEWAY_RATE_LIMIT_FAILURE_MODE="closed")  # fmt: skip
    gw = Gateway(env)  # building the app makes no call and raises nothing
    result = gw("GET", "/api/users/x", headers={"authorization": f"Bearer {token()}"})
    assert result["statusCode"] == 503
    errors = [line for line in gw.logs() if line["level"] == "ERROR"]
    assert errors[0]["error_code"] == "rate_limit_unavailable"
    assert "AWS_CONTAINER_CREDENTIALS_FULL_URI" in errors[0]["message"]


def test_a_failed_advisory_refresh_keeps_the_credentials_and_warns() -> None:
    warnings: list[str] = []

    async def fetch() -> tuple[Credentials, float | None]:
        raise RuntimeError("endpoint down")

    creds = aws.RefreshingCredentials(fetch, "test", clock=lambda: NOW, on_warning=warnings.append)
    creds.creds, creds.expiry = Credentials("OLD", "s", "t"), NOW + 700
    assert asyncio.run(creds.get()).access_key == "OLD"
    assert warnings and "advisory" in warnings[0]


def test_a_late_expired_answer_does_not_discard_fresh_credentials() -> None:
    fetches: list[int] = []

    async def fetch() -> tuple[Credentials, float | None]:
        fetches.append(1)
        return Credentials(f"K{len(fetches)}", "s", "t"), NOW + 3600

    async def scenario() -> list[str]:
        creds = aws.RefreshingCredentials(fetch, "test", clock=lambda: NOW)
        first = await creds.get()
        creds.invalidate(first)  # AWS called K1 expired
        second = await creds.get()
        creds.invalidate(first)  # a straggler that had signed with K1 says so too: K2 stays
        third = await creds.get()
        return [first.access_key, second.access_key, third.access_key]

    assert asyncio.run(scenario()) == ["K1", "K2", "K2"]
    assert len(fetches) == 2
