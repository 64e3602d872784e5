"""Opaque session tokens in DynamoDB.

A token is ``gws_`` + 32 random bytes (base64url). Only its SHA-256 is stored, as ``session_id``.
``expires_at`` is both the DynamoDB TTL attribute and the absolute expiry: it is fixed at
creation, never extended, and checked on every lookup (TTL deletion can lag by days). A session
never outlives the credential that minted it: ``expires_at = min(now + TTL, not_after)`` with the
JWT's ``exp`` as ``not_after``.

``revoke_all`` deletes in batches of 25 and re-sends ``UnprocessedItems`` with the AWS client's
full-jitter exponential backoff, inside the request's remaining time; if any remain it raises
``RevokeIncomplete`` with what it really did, so the answer never claims more.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.aws import AwsCallError, AwsJsonClient, AwsUnavailable, backoff_delay, remaining_time

TOKEN_PREFIX = "gws_"
USER_INDEX = "user_id-index"
BATCH = 25  # BatchWriteItem's maximum
UNPROCESSED_ATTEMPTS = 8  # with DynamoDB's 25 ms backoff scale: at most ~3 s of waiting


class RevokeIncomplete(Exception):
    """Some sessions were still unprocessed after every retry the time allowed."""

    def __init__(self, revoked: int, remaining: int) -> None:
        super().__init__(f"{remaining} session(s) still unprocessed after retries")
        self.revoked = revoked
        self.remaining = remaining


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    user_id: str
    expires_at: int


class SessionStore:
    def __init__(
        self,
        ddb: AwsJsonClient,
        table: str,
        ttl: int,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.ddb = ddb
        self.table = table
        self.ttl = ttl
        self.clock = clock
        self.rand = rand
        self.sleep = sleep

    async def create(self, user_id: str, not_after: int | None = None) -> tuple[str, Session]:
        """Store a new session; ``not_after`` caps the expiry (e.g. the JWT's ``exp``)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = int(self.clock())
        expires_at = now + self.ttl if not_after is None else min(now + self.ttl, not_after)
        session = Session(token_hash(token), user_id, expires_at)
        try:
            await self.ddb.call(
                "PutItem",
                {
                    "TableName": self.table,
                    "Item": {
                        "session_id": {"S": session.session_id},
                        "user_id": {"S": user_id},
                        "created_at": {"N": str(now)},
                        "expires_at": {"N": str(expires_at)},
                    },
                    "ConditionExpression": "attribute_not_exists(session_id)",
                },
            )
        except AwsCallError as exc:
            # 256 random bits never collide: the item exists because an earlier attempt of this
            # very call was applied and its answer lost (the client retried it).
            if exc.code != "ConditionalCheckFailedException":
                raise
        return token, session

    async def lookup(self, token: str) -> Session | None:
        """The live session for ``token``, or None if unknown, revoked or expired."""
        result = await self.ddb.call(
            "GetItem",
            {
                "TableName": self.table,
                "Key": {"session_id": {"S": token_hash(token)}},
                "ConsistentRead": True,
            },
        )
        item = result.get("Item")
        if not item:
            return None
        expires_at = int(item["expires_at"]["N"])
        if expires_at <= self.clock():
            return None
        return Session(item["session_id"]["S"], item["user_id"]["S"], expires_at)

    async def revoke(self, session_id: str) -> bool:
        result = await self.ddb.call(
            "DeleteItem",
            {
                "TableName": self.table,
                "Key": {"session_id": {"S": session_id}},
                "ReturnValues": "ALL_OLD",
            },
        )
        return bool(result.get("Attributes"))

    async def revoke_all(self, user_id: str) -> int:
        ids: list[str] = []
        params: dict = {
            "TableName": self.table,
            "IndexName": USER_INDEX,
            "KeyConditionExpression": "user_id = :u",
            "ExpressionAttributeValues": {":u": {"S": user_id}},
            "ProjectionExpression": "session_id",
        }
        while True:
            page = await self.ddb.call("Query", params)
            ids.extend(item["session_id"]["S"] for item in page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                break
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        unprocessed = 0
        for start in range(0, len(ids), BATCH):
            requests = [
                {"DeleteRequest": {"Key": {"session_id": {"S": sid}}}}
                for sid in ids[start : start + BATCH]
            ]
            try:
                requests = await self._delete_batch(requests)
            except (AwsCallError, AwsUnavailable):
                done = start - unprocessed
                if done == 0:
                    raise
                raise RevokeIncomplete(done, len(ids) - done) from None
            unprocessed += len(requests)
        if unprocessed:
            raise RevokeIncomplete(len(ids) - unprocessed, unprocessed)
        return len(ids)

    async def _delete_batch(self, requests: list[dict]) -> list[dict]:
        """Send one batch; re-send what comes back unprocessed. Returns what never went."""
        for attempt in range(1, UNPROCESSED_ATTEMPTS + 1):
            result = await self.ddb.call("BatchWriteItem", {"RequestItems": {self.table: requests}})
            requests = (result.get("UnprocessedItems") or {}).get(self.table) or []
            if not requests or attempt == UNPROCESSED_ATTEMPTS:
                break
            delay = backoff_delay(attempt, False, "dynamodb", self.rand)
            if remaining_time(default=10.0) - delay < 0.25:
                break  # no time left for another round trip
            await self.sleep(delay)
        return requests
