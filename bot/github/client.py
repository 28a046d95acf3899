"""gidgethub API objects for the app and its installations, with bounded retries.

Handlers take a plain `gidgethub.abc.GitHubAPI`; what they get is `PatchbotGitHubAPI`, which
authenticates every request with a fresh credential, retries what is transient, and raises
errors that name the failed call.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
import gidgethub
import gidgethub.aiohttp
from gidgethub import sansio
from pydantic import BaseModel, SecretStr

from bot.github.auth import InstallationTokens
from bot.github.errors import GitHubUnreachable, call_failed
from bot.github.retrying import RetryConfig, backoff_wait, retry_wait
from bot.telemetry.metrics import process_metrics
from bot.trace import current_trace

Credentials = Callable[[], Awaitable[str]]
"""Returns the value of the `Authorization` header for the next request."""

log = logging.getLogger(__name__)

USER_AGENT = "patchbot"

# Seconds waited so far by the current logical call (gidgethub restarts `attempt` at 1).
_waited: contextvars.ContextVar[float] = contextvars.ContextVar("github_waited", default=0.0)


class GitHubClientConfig(BaseModel):
    """How to reach GitHub and authenticate as the app."""

    api_url: str = "https://api.github.com"
    """REST API base URL (GITHUB_API_URL): github.com, `https://HOST/api/v3` for GitHub
    Enterprise Server, or the simulator's `api_url`."""

    app_id: int
    """The GitHub App's id (APP_ID), shown on the app's settings page."""

    private_key: SecretStr
    """The app's PEM private key (PRIVATE_KEY, or read from PRIVATE_KEY_PATH)."""

    request_timeout: float = 30.0
    """Seconds one HTTP request may take before it counts as unanswered."""

    token_refresh_margin: float = 300.0
    """Seconds before an installation token's expiry at which a new one is requested."""

    retry: RetryConfig = RetryConfig()
    """Retry bounds for transient failures."""


class PatchbotGitHubAPI(gidgethub.aiohttp.GitHubAPI):
    """`gidgethub.aiohttp.GitHubAPI` with per-request credentials, retries and named errors."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        requester: str = USER_AGENT,
        *,
        base_url: str,
        credentials: Credentials | None = None,
        on_unauthorized: Callable[[], None] | None = None,
        retry: RetryConfig | None = None,
        request_timeout: float = 30.0,
        installation_id: int | None = None,
    ) -> None:
        super().__init__(session, requester, base_url=base_url)
        self._installation_id = installation_id
        """Whose rate limit the responses report (None: the App's own)."""
        self._credentials = credentials
        self._on_unauthorized = on_unauthorized
        self.retry = retry or RetryConfig()
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        attempt = 0
        while True:
            attempt += 1
            request_headers = dict(headers)
            if self._credentials is not None and "authorization" not in request_headers:
                request_headers["authorization"] = await self._credentials()
            try:
                async with self._session.request(
                    method, url, headers=request_headers, data=body, timeout=self._timeout
                ) as response:
                    process_metrics().github_response(self._installation_id, response.headers)
                    return response.status, response.headers, await response.read()
            except (aiohttp.ClientConnectionError, TimeoutError) as e:
                wait = backoff_wait(self.retry, attempt)
                if not self._may_wait(attempt, wait):
                    raise GitHubUnreachable(method, url, attempt, e) from e
                log.warning(
                    "GitHub API call %s %s got no answer (%s); retrying in %.1f s",
                    method,
                    urlsplit(url).path,
                    type(e).__name__,
                    wait,
                )
                await self._wait(wait)

    def _may_wait(self, attempt: int, wait: float) -> bool:
        return (
            attempt < self.retry.max_attempts and _waited.get() + wait <= self.retry.max_total_wait
        )

    async def _wait(self, seconds: float) -> None:
        _waited.set(_waited.get() + seconds)
        await self.sleep(seconds)

    async def _make_request(
        self,
        method: str,
        url: str,
        url_vars: Mapping[str, Any] | None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[bytes, str | None, int]:
        _waited.set(0.0)  # one logical call, however many attempts: one wait budget
        started, status = time.monotonic(), None
        try:
            result: tuple[bytes, str | None, int] = await super()._make_request(
                method, url, url_vars, *args, **kwargs
            )
            status = result[2]
            return result
        except gidgethub.HTTPException as error:
            status = int(error.status_code)
            raise
        finally:
            trace = current_trace()
            if trace is not None:  # the call is part of a run: its trace shows it
                path = urlsplit(sansio.format_url(url, url_vars or {})).path
                trace.event(
                    "github_call",
                    method=method,
                    path=path,
                    status=status,
                    duration=round(time.monotonic() - started, 4),
                )

    async def handle_rate_limit_error(
        self, *, method: str, url: str, exception: gidgethub.HTTPException, attempt: int
    ) -> bool:
        status = int(exception.status_code)
        if status == 401 and attempt == 1 and self._on_unauthorized is not None:
            self._on_unauthorized()  # a revoked token: fetch a new one, once
            return True
        wait = retry_wait(self.retry, exception, attempt)
        if wait is None:
            raise call_failed(method, url, exception, attempt) from exception
        if not self._may_wait(attempt, wait):
            if attempt >= self.retry.max_attempts:
                reason = "limit is RetryConfig.max_attempts"
            else:
                reason = (
                    f"GitHub asked to wait {wait:.0f} s, beyond RetryConfig.max_total_wait "
                    f"({self.retry.max_total_wait:.0f} s)"
                )
            raise call_failed(method, url, exception, attempt, reason) from exception
        log.warning(
            "GitHub API call %s %s answered %d; retrying in %.1f s (attempt %d of %d)",
            method,
            urlsplit(url).path,
            status,
            wait,
            attempt + 1,
            self.retry.max_attempts,
        )
        await self._wait(wait)
        return True

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class GitHubApp:
    """Builds API objects that act as the app (JWT) or as one of its installations (token).

    Use as an async context manager when it should own its HTTP session.
    """

    def __init__(
        self,
        config: GitHubClientConfig,
        session: aiohttp.ClientSession | None = None,
        *,
        api_class: type[PatchbotGitHubAPI] = PatchbotGitHubAPI,
    ) -> None:
        self.config = config
        self._session = session
        self._owns_session = session is None
        self._api_class = api_class
        self.tokens = InstallationTokens(
            config.app_id,
            config.private_key.get_secret_value(),
            self._request_token,
            refresh_margin=config.token_refresh_margin,
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def __aenter__(self) -> GitHubApp:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _api(
        self,
        credentials: Credentials,
        on_unauthorized: Callable[[], None] | None = None,
        installation_id: int | None = None,
    ) -> PatchbotGitHubAPI:
        return self._api_class(
            self.session,
            USER_AGENT,
            base_url=self.config.api_url,
            credentials=credentials,
            on_unauthorized=on_unauthorized,
            retry=self.config.retry,
            request_timeout=self.config.request_timeout,
            installation_id=installation_id,
        )

    async def _request_token(self, installation_id: int, app_jwt: str) -> dict[str, Any]:
        async def bearer() -> str:
            return f"bearer {app_jwt}"

        answer = await self._api(bearer).post(
            "/app/installations/{installation_id}/access_tokens",
            {"installation_id": installation_id},
            data={},
        )
        return cast(dict[str, Any], answer)

    def app_api(self) -> PatchbotGitHubAPI:
        """An API object acting as the App itself (a JWT signed for each request), for the
        `/app` endpoints: `GET /app` proves the App ID and private key work."""

        async def bearer() -> str:
            return f"bearer {self.tokens.app_jwt()}"

        return self._api(bearer)

    async def installation_token(self, installation_id: int) -> str:
        """The installation's access token (cached), e.g. for `bot.github.git`."""
        return await self.tokens.get(installation_id)

    async def installation_api(self, installation_id: int) -> PatchbotGitHubAPI:
        """An API object acting as the installation; every request carries a fresh token."""

        async def token() -> str:
            return f"token {await self.tokens.get(installation_id)}"

        api = self._api(token, lambda: self.tokens.invalidate(installation_id), installation_id)
        await self.tokens.get(installation_id)  # fail here, not in a handler, on a bad app
        return api
