"""AWS Signature Version 4 for JSON-protocol POST requests (DynamoDB, Secrets Manager).

Hand-written so the request path never imports botocore (about 150 ms of cold start).
Reference: https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class Signer:
    def __init__(self, service: str, region: str) -> None:
        self.service = service
        self.region = region
        self._keys: dict[tuple[str, str], bytes] = {}
        self._plans: dict[
            tuple[str, tuple[tuple[str, str], ...], str | None], tuple[str, str, str]
        ] = {}

    def _signing_key(self, secret: str, date: str) -> bytes:
        cached = self._keys.get((secret, date))
        if cached is None:
            k = _hmac(("AWS4" + secret).encode(), date)
            for part in (self.region, self.service, "aws4_request"):
                k = _hmac(k, part)
            self._keys = {(secret, date): k}
            cached = k
        return cached

    def sign(
        self,
        creds: Credentials,
        host: str,
        headers: dict[str, str],
        body: bytes,
        amz_date: str,
        path: str = "/",
    ) -> list[tuple[str, str]]:
        """Return the headers to send: ``headers`` plus x-amz-date, token and Authorization.

        ``headers`` keys must be lower-case; ``amz_date`` is ``YYYYMMDDTHHMMSSZ``.
        """
        date = amz_date[:8]
        before, after, signed_names = self._plan(host, headers, creds.token)
        payload_hash = hashlib.sha256(body).hexdigest()
        canonical = f"POST\n{path}\n\n{before}x-amz-date:{amz_date}\n{after}\n{signed_names}\n{payload_hash}"
        scope = f"{date}/{self.region}/{self.service}/aws4_request"
        to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(
            self._signing_key(creds.secret_key, date), to_sign.encode(), hashlib.sha256
        ).hexdigest()
        out = list(headers.items())
        out.append(("x-amz-date", amz_date))
        if creds.token:
            out.append(("x-amz-security-token", creds.token))
        out.append(
            (
                "authorization",
                f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, SignedHeaders={signed_names}, Signature={signature}",
            )
        )
        return out

    def _plan(self, host: str, headers: dict[str, str], token: str | None) -> tuple[str, str, str]:
        """The canonical header lines before and after ``x-amz-date`` (the only one that
        changes between calls) and the signed header names, cached per header set."""
        key = (host, tuple(headers.items()), token)
        plan = self._plans.get(key)
        if plan is None:
            signed = dict(headers)
            signed["host"] = host
            signed["x-amz-date"] = ""
            if token:
                signed["x-amz-security-token"] = token
            names = sorted(signed)
            lines = [f"{n}:{' '.join(signed[n].split())}\n" for n in names]
            at = names.index("x-amz-date")
            plan = ("".join(lines[:at]), "".join(lines[at + 1 :]), ";".join(names))
            if len(self._plans) >= 64:
                self._plans.clear()
            self._plans[key] = plan
        return plan
