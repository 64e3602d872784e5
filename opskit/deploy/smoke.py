"""The post-deploy smoke test: GET <ApiUrl>/health/live answers 200."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from opskit.errors import CheckFailed


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
    url = api_url.rstrip("/") + "/health/live"
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # our API
                if response.status == 200:
                    return SmokeResult(url, response.status, attempt)
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
        if attempt < attempts:
            sleep(interval)
    raise CheckFailed(
        f"smoke test GET {url} failed",
        f"{last} after {attempts} attempts",
        "see `opskit logs tail` for the function's errors",
    )
