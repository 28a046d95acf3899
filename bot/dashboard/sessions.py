"""Who is looking: a person signed in with GitHub (a signed session cookie holding their login
and the repositories they can read, with an expiry) or a machine with `PATCHBOT_UI_TOKEN`.

Cookies are HttpOnly and SameSite=Lax, signed with HMAC-SHA256 under a key derived from the
App's client secret; a cookie that was changed, is expired or was signed under another key is
treated as none. The token is compared in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import zlib
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

SESSION_COOKIE = "patchbot_session"
SIGN_IN_COOKIE = "patchbot_sign_in"
SIGN_IN_SECONDS = 600
"""How long a started sign-in may take before GitHub sends the person back."""
COOKIE_PATH = "/ui/"


class Viewer(BaseModel):
    """Who is looking, and which repositories they may see (None: all, for a machine)."""

    login: str | None
    """The person's GitHub login; None for a machine with the token."""
    repositories: tuple[str, ...] | None
    expires_at: float | None = None

    def may_see(self, repository: str) -> bool:
        return self.repositories is None or repository in self.repositories


VIEWER: web.RequestKey[Viewer] = web.RequestKey("dashboard_viewer", Viewer)
"""Where the access check leaves the viewer of a request."""


class PendingSignIn(BaseModel):
    """A sign-in sent to GitHub: the `state` it must come back with, and where to go after."""

    state: str
    next: str
    expires_at: float


class Signer:
    """Signs and opens cookie values: `payload.signature`, both base64url."""

    def __init__(self, client_secret: str) -> None:
        self._key = hmac.new(
            client_secret.encode(), b"patchbot dashboard cookies", hashlib.sha256
        ).digest()

    def seal(self, value: BaseModel) -> str:
        payload = _b64(zlib.compress(value.model_dump_json().encode()))
        return f"{payload}.{self._signature(payload)}"

    def open(self, cookie: str | None, model: type[Any]) -> Any:
        """The value sealed in `cookie` if its signature holds and it has not expired; None
        otherwise."""
        if not cookie or "." not in cookie:
            return None
        payload, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature.encode(), self._signature(payload).encode()):
            return None
        try:
            value = model.model_validate_json(zlib.decompress(_unb64(payload)))
        except (ValueError, zlib.error, ValidationError):
            return None
        expires = getattr(value, "expires_at", None)
        return value if expires is not None and expires > time.time() else None

    def _signature(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())


def machine_viewer(authorization: str, token: str | None) -> Viewer | None:
    """A machine's viewer when `authorization` is `Bearer TOKEN` with the configured token."""
    scheme, _, given = authorization.partition(" ")
    if token is None or scheme.lower() != "bearer":
        return None
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return None
    return Viewer(login=None, repositories=None)


def session_for(login: str, repositories: tuple[str, ...], hours: float) -> Viewer:
    return Viewer(login=login, repositories=repositories, expires_at=time.time() + hours * 3600)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
