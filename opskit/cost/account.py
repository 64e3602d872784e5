"""Which AWS account the credentials belong to: STS GetCallerIdentity, cached per credentials.

The Cost Explorer cache is keyed by this account id. The STS answer itself is cached under a
key made of the endpoint and the credentials' access key id (never the secret), so the same
credentials do not ask again for ACCOUNT_TTL, and other credentials always ask.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from opskit.aws import aws_error
from opskit.cost.explorer import DiskCache

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

ACCOUNT_TTL = timedelta(hours=12)


def credentials_key(session: Any, endpoint_url: str | None) -> str | None:
    """A stable name for the credentials in use (a hash with the access key id), or None."""
    try:
        credentials = session.get_credentials()
        access_key = credentials.access_key if credentials is not None else None
    except Exception:  # unreadable credentials: STS will say what is wrong
        return None
    if not access_key:
        return None
    return hashlib.sha256(f"{endpoint_url or 'aws'}|{access_key}".encode()).hexdigest()


def account_id(sts: STSClient, cache: DiskCache, key: str | None) -> str:
    """The account id, from the cache when these credentials were seen within ACCOUNT_TTL."""
    entry = {"op": "GetCallerIdentity", "credentials": key}
    if key is not None:
        cached = cache.get(entry)
        if isinstance(cached, str) and cached:
            return cached
    try:
        found = str(sts.get_caller_identity()["Account"])
    except Exception as exc:
        raise aws_error(
            "finding the AWS account id (the cost cache is kept per account)",
            exc,
            "check the credentials: `aws sts get-caller-identity`",
        ) from None
    if key is not None:
        cache.put(entry, found, ACCOUNT_TTL)
    return found
