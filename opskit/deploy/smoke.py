"""The post-deploy smoke test: GET <ApiUrl>/health/ready answers 200.

/health/ready, not /health/live: live answers 200 even when the new configuration
is invalid (the gateway then answers 500 `config_invalid` on every /api route),
while ready checks the configuration, both tables and the JWT secret. A deploy
whose gateway is not ready fails with exit code 10 (CheckFailed).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from opskit.errors import CheckFailed

READY_PATH = "/health/ready"


@dataclass(frozen=True)
class SmokeResult:
    url: str
    status: int
    attempts: int


def smoke_test(
    api_url: str,
    *,
    sleep: Callable[[float], None],
    attempts: int = 10,
    interval: float = 3.0,
    timeout: float = 10.0,
) -> SmokeResult:
    """Retry for a while (a new API or a cold function may take seconds), then fail clearly."""
    url = api_url.rstrip("/") + READY_PATH
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # our API
                if response.status == 200:
                    return SmokeResult(url, response.status, attempt)
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}{_reason(exc)}"
            if "config_invalid" in last:  # retrying cannot fix the configuration
                attempts = attempt
                break
        except (urllib.error.URLError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        if attempt < attempts:
            sleep(interval)
    raise CheckFailed(
        f"smoke test GET {url} failed: the deployed gateway is not ready",
        f"{last} after {attempts} attempts",
        "the stack is deployed with this configuration: fix the parameter named above and "
        "deploy again (see `opskit logs tail` for the function's errors)",
    )


def _reason(exc: urllib.error.HTTPError) -> str:
    """The gateway's JSON error code and message, when it sent one."""
    try:
        body = json.loads(exc.read(4096) or b"{}")
    except (ValueError, OSError):
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f" {error.get('code', '')}: {error.get('message', '')}".rstrip(": ")
    return ""
