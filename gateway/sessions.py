"""Opaque session tokens in DynamoDB.

A token is ``gws_`` + 32 random bytes (base64url). Only its SHA-256 is stored, as ``session_id``.
``expires_at`` is both the DynamoDB TTL attribute and the absolute expiry: it is fixed at
creation, never extended, and checked on every lookup (TTL deletion can lag by days).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.aws import AwsJsonClient

TOKEN_PREFIX = "gws_"
USER_INDEX = "user_id-index"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    user_id: str
    expires_at: int


class SessionStore:
    def __init__(
        self, ddb: AwsJsonClient, table: str, ttl: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.ddb = ddb
        self.table = table
        self.ttl = ttl
        self.clock = clock

    async def create(self, user_id: str, not_after: int | None = None) -> tuple[str, Session]:
        """Store a new session; ``not_after`` caps the expiry (e.g. the JWT's ``exp``)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = int(self.clock())
        expires_at = now + self.ttl if not_after is None else min(now + self.ttl, not_after)
        session = Session(token_hash(token), user_id, expires_at)
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
        for start in range(0, len(ids), 25):
            requests = [
                {"DeleteRequest": {"Key": {"session_id": {"S": sid}}}}
                for sid in ids[start : start + 25]
            ]
            for attempt in range(5):
                result = await self.ddb.call(
                    "BatchWriteItem", {"RequestItems": {self.table: requests}}
                )
                requests = result.get("UnprocessedItems", {}).get(self.table, [])
                if not requests:
                    break
                await asyncio.sleep(0.05 * 2**attempt)
        return len(ids)
