"""The Host header (and SigV4's canonical host) of an endpoint override, against botocore's
own (`botocore.auth._host_from_url`): an IPv6 literal keeps its brackets, a default port is
dropped (RFC 3986 3.2.2; found: `http://[::1]:4566` signed as `::1:4566`)."""

from __future__ import annotations

import pytest
from botocore.auth import _host_from_url
from hypothesis import given
from hypothesis import strategies as st

from gateway.aws import endpoint_for

HOSTS = st.sampled_from(
    ["127.0.0.1", "localhost", "::1", "fe80::1", "dynamodb.example", "2001:db8::7"]
)


def url_of(scheme: str, host: str, port: int | None) -> str:
    authority = f"[{host}]" if ":" in host else host
    return f"{scheme}://{authority}" + (f":{port}" if port is not None else "")


@given(st.sampled_from(["http", "https"]), HOSTS, st.one_of(st.none(), st.integers(1, 65535)))
def test_the_host_header_is_botocores(scheme, host, port):
    url = url_of(scheme, host, port)
    got_scheme, got_host, got_port, header = endpoint_for(
        "DYNAMODB", "x.amazonaws.com", {"AWS_ENDPOINT_URL": url}
    )
    assert header == _host_from_url(url)
    assert (got_scheme, got_host) == (scheme, host)
    assert got_port == (port or (443 if scheme == "https" else 80))


@pytest.mark.parametrize(
    ("url", "header"), [("http://[::1]:4566", "[::1]:4566"), ("https://[::1]", "[::1]")]
)
def test_ipv6_examples(url, header):
    assert endpoint_for("DYNAMODB", "x", {"AWS_ENDPOINT_URL_DYNAMODB": url})[3] == header
