"""GitHub App authentication: the app's JWT and cached installation access tokens."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from jwt.algorithms import RSAAlgorithm

from bot.errors import ConfigError, PatchbotError

JWT_BACKDATE = 60
"""Seconds the JWT's `iat` is set in the past, to tolerate clock drift with GitHub."""

JWT_LIFETIME = 9 * 60
"""Seconds from `iat` to `exp`; GitHub refuses JWTs that live longer than 10 minutes."""


class AuthError(PatchbotError, PermissionError):
    """The app could not authenticate to GitHub (bad key, app id or installation)."""


@functools.lru_cache(maxsize=4)
def _signing_key(private_key: str) -> Any:
    """The PEM key parsed once: parsing checks the RSA key, which costs 10-20 ms a time."""
    return RSAAlgorithm(RSAAlgorithm.SHA256).prepare_key(private_key)


def app_jwt(app_id: int | str, private_key: str, *, now: float | None = None) -> str:
    """A JWT (RS256) that authenticates as the GitHub App itself, valid for about 8 minutes."""
    issued_at = int(now if now is not None else time.time()) - JWT_BACKDATE
    claims = {"iat": issued_at, "exp": issued_at + JWT_LIFETIME, "iss": str(app_id)}
    try:
        return jwt.encode(claims, _signing_key(private_key), algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as e:
        raise ConfigError(
            "The GitHub App private key cannot sign a JWT: set PRIVATE_KEY (or PRIVATE_KEY_PATH) "
            "to the PEM file GitHub generated for the app ('Generate a private key' on the "
            f"app's settings page). Cause: {type(e).__name__}"
        ) from e


@dataclass(frozen=True)
class InstallationToken:
    """An installation access token and the moment (Unix seconds) GitHub stops accepting it."""

    token: str
    expires_at: float


TokenRequester = Callable[[int, str], Awaitable[dict[str, Any]]]
"""Calls `POST /app/installations/{id}/access_tokens` with the app JWT and returns the JSON."""


class InstallationTokens:
    """Installation tokens, cached until `refresh_margin` seconds before they expire.

    Concurrent callers for the same installation wait on one lock, so a cold cache costs one
    request however many handlers ask at once.
    """

    def __init__(
        self,
        app_id: int | str,
        private_key: str,
        request_token: TokenRequester,
        *,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._app_id = app_id
        self._private_key = private_key
        self._request_token = request_token
        self._refresh_margin = refresh_margin
        self._clock = clock
        self._cache: dict[int, InstallationToken] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def app_jwt(self) -> str:
        """The app's JWT, signed now (wall-clock time: GitHub checks `iat` and `exp`)."""
        return app_jwt(self._app_id, self._private_key)

    def _fresh(self, installation_id: int) -> InstallationToken | None:
        cached = self._cache.get(installation_id)
        if cached is not None and cached.expires_at - self._refresh_margin > self._clock():
            return cached
        return None

    async def get(self, installation_id: int) -> str:
        """A token for this installation, from the cache or freshly requested."""
        cached = self._fresh(installation_id)
        if cached is not None:
            return cached.token
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            cached = self._fresh(installation_id)
            if cached is not None:
                return cached.token
            response = await self._request_token(installation_id, self.app_jwt())
            token = _parse_token(installation_id, response)
            self._cache[installation_id] = token
            return token.token

    def invalidate(self, installation_id: int) -> None:
        """Forget the cached token (GitHub answered 401 to it: revoked or expired early)."""
        self._cache.pop(installation_id, None)


def _parse_token(installation_id: int, response: dict[str, Any]) -> InstallationToken:
    try:
        expires = datetime.fromisoformat(str(response["expires_at"]).replace("Z", "+00:00"))
        return InstallationToken(token=str(response["token"]), expires_at=expires.timestamp())
    except (KeyError, ValueError, TypeError) as e:
        raise AuthError(
            f"GitHub's answer to POST /app/installations/{installation_id}/access_tokens has no "
            "usable 'token' and 'expires_at'; check GITHUB_API_URL points at a GitHub API."
        ) from e
