"""Fault injection: the next N requests matching a path answer 5xx, a rate limit, or slowly;
and, for git over HTTP, a push or fetch that is carried out but whose answer is lost (a 5xx
instead of it, as from a proxy that timed out)."""

from __future__ import annotations

import asyncio
import fnmatch
import time
from dataclasses import dataclass, field

from aiohttp import web

from bot.testing.simulator.context import error, rate_limit_headers


@dataclass
class Fault:
    pattern: str
    """Glob over the request path (REST paths without the `/api/v3` prefix), e.g.
    `/repos/*/pulls`; `*` also matches `/`."""
    method: str | None = None
    status: int | None = None
    """Answer with this status instead of serving the request; None serves it (after delay)."""
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "Server Error"
    delay: float = 0.0
    """Seconds to wait before answering."""
    times: int = 1
    """How many matching requests this fault affects."""
    served: bool = False
    """Serve the request first (git over HTTP only: the push lands), then answer `status`."""
    hits: int = 0

    def matches(self, method: str, path: str, served: bool = False) -> bool:
        if self.hits >= self.times or self.served != served:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, self.pattern)


class Faults:
    """The simulator's pending faults; the oldest matching one applies to each request."""

    def __init__(self) -> None:
        self.pending: list[Fault] = []

    def inject(self, fault: Fault) -> Fault:
        self.pending.append(fault)
        return fault

    def server_error(
        self, pattern: str, *, status: int = 502, times: int = 1, method: str | None = None
    ) -> Fault:
        return self.inject(Fault(pattern, method, status, times=times, message="Server Error"))

    def secondary_rate_limit(
        self,
        pattern: str,
        *,
        retry_after: int = 1,
        status: int = 403,
        times: int = 1,
        method: str | None = None,
    ) -> Fault:
        message = "You have exceeded a secondary rate limit. Please wait a few minutes."
        headers = {"Retry-After": str(retry_after)}
        return self.inject(Fault(pattern, method, status, headers, message, times=times))

    def primary_rate_limit(
        self,
        pattern: str,
        *,
        reset_in: float = 1.0,
        status: int = 403,
        times: int = 1,
        method: str | None = None,
    ) -> Fault:
        headers = rate_limit_headers(remaining=0)
        headers["X-RateLimit-Reset"] = str(int(time.time() + reset_in))
        message = "API rate limit exceeded for installation."
        return self.inject(Fault(pattern, method, status, headers, message, times=times))

    def slow(
        self, pattern: str, seconds: float, *, times: int = 1, method: str | None = None
    ) -> Fault:
        return self.inject(Fault(pattern, method, delay=seconds, times=times))

    def answer_lost(
        self, pattern: str, *, status: int = 502, times: int = 1, method: str | None = None
    ) -> Fault:
        """Git over HTTP: carry the request out (a push updates the branch), then answer
        `status` instead of its result."""
        return self.inject(Fault(pattern, method, status, times=times, served=True))

    def take(self, method: str, path: str, *, served: bool = False) -> Fault | None:
        """The oldest pending fault for this request (`served`: of those applied after it was
        served), counted as used."""
        for fault in self.pending:
            if fault.matches(method, path, served):
                fault.hits += 1
                return fault
        return None


FAULTS: web.AppKey[Faults] = web.AppKey("faults", Faults)


async def apply_fault(request: web.Request, path: str) -> web.Response | None:
    """The injected answer for this request, or None to serve it (after any delay)."""
    fault = request.config_dict[FAULTS].take(request.method, path)
    if fault is None:
        return None
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.status is None:
        return None
    return error(fault.status, fault.message, headers=fault.headers)
