"""When to retry a GitHub API call or a git command that talks to GitHub, and how long to wait
first (from GitHub's own headers, or backing off)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping

import gidgethub
from pydantic import BaseModel, Field

SECONDARY_LIMIT_WAIT = 60.0
"""Seconds to wait after a secondary rate limit that carries no `Retry-After` (GitHub's docs:
"wait for at least one minute")."""


class RetryConfig(BaseModel):
    """Bounds on retrying transient GitHub failures (5xx, rate limits, no answer)."""

    max_attempts: int = Field(default=4, ge=1)
    """Attempts per call, the first included."""

    max_total_wait: float = Field(default=90.0, ge=0)
    """Seconds a single call may spend waiting between attempts, all waits together. A rate
    limit that resets later than this fails the call at once instead of sleeping."""

    backoff: float = Field(default=1.0, ge=0)
    """Seconds before the first retry of a 5xx or a dropped connection; doubles each attempt."""

    max_backoff: float = Field(default=20.0, ge=0)
    """Upper bound, in seconds, of one exponential-backoff wait."""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value


def rate_limit_wait(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds GitHub asks us to wait, from `Retry-After` or an exhausted primary limit."""
    retry_after = _header(headers, "Retry-After")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return None
    if _header(headers, "X-RateLimit-Remaining") == "0":
        reset = _header(headers, "X-RateLimit-Reset")
        if reset is not None:
            try:
                return max(0.0, float(reset) - (now if now is not None else time.time()) + 1.0)
            except ValueError:
                return None
    return None


def backoff_wait(config: RetryConfig, attempt: int) -> float:
    return float(min(config.max_backoff, config.backoff * 2 ** (attempt - 1)))


def retry_wait(config: RetryConfig, error: gidgethub.HTTPException, attempt: int) -> float | None:
    """Seconds to wait before retrying after `error` on attempt `attempt`, or None: do not retry.

    Retried: 5xx; 403/429 that GitHub marks as a rate limit (`Retry-After`, or
    `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset`); 429 without headers. Other 4xx never.
    """
    status = int(error.status_code)
    asked = rate_limit_wait(error.headers)
    if status >= 500:
        return asked if asked is not None else backoff_wait(config, attempt)
    if status in (403, 429):
        if asked is not None:
            return asked
        if status == 429:
            return backoff_wait(config, attempt)
        if "secondary rate limit" in str(error).lower():
            return SECONDARY_LIMIT_WAIT  # GitHub's advice when it names no time
    return None


_GIT_PERMANENT = re.compile(
    r"returned error: 4(?!08|29)\d\d|HTTP 4(?!08|29)\d\d|Authentication failed|not found"
    r"|\[rejected\]|\[remote rejected\]|non-fast-forward|stale info|fetch first"
    r"|protected branch|hook declined|Invalid username or token",
    re.IGNORECASE,
)
_GIT_TRANSIENT = re.compile(
    r"returned error: (?:5\d\d|408|429)|HTTP (?:5\d\d|408|429)|RPC failed"
    r"|Could not resolve host|Failed to connect|Connection (?:refused|reset|timed out)"
    r"|Operation timed out|Empty reply from server|Recv failure|Send failure"
    r"|early EOF|remote end hung up unexpectedly|unexpected disconnect"
    r"|transfer closed with outstanding read data|HTTP/2 stream \d+ was not closed cleanly"
    r"|GnuTLS recv error|SSL_read|TLS connection was non-properly terminated",
    re.IGNORECASE,
)


def git_transient(output: str) -> bool:
    """Whether a failed git command's output says the network or GitHub failed for a moment
    (a 5xx, a reset or dropped connection): worth trying again. Refusals (401/403/404, a
    rejected push) never are."""
    return not _GIT_PERMANENT.search(output) and bool(_GIT_TRANSIENT.search(output))
