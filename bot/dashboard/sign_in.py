"""Signing in with GitHub (the App's web application flow) and out.

`/ui/login` sends the browser to GitHub with a fresh random `state`, kept in a short-lived
signed cookie; `/ui/callback` accepts GitHub's code only with that same state (a forged
callback from another site has none), trades it for a user access token, asks GitHub who the
person is and which of the App's repositories they can read, and keeps those in the session
cookie. The user token itself is kept nowhere."""

from __future__ import annotations

import hmac
import secrets
import time
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bot.dashboard import context as dashboard
from bot.dashboard.render import page
from bot.dashboard.sessions import (
    COOKIE_PATH,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    SIGN_IN_SECONDS,
    PendingSignIn,
    session_for,
)
from bot.github.user_access import SignInFailed, UserAccess, authorize_url

MAX_COOKIE = 4000
"""Bytes a browser keeps of one cookie (4,096 with its name and attributes)."""


def login_url(next_path: str) -> str:
    return f"{dashboard.PREFIX}/login?{urlencode({'next': next_path})}"


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a dashboard path, never another site (`//evil`)."""
    if value and value.startswith(f"{dashboard.PREFIX}/") and not value.startswith("//"):
        return value
    return f"{dashboard.PREFIX}/"


def _callback_url(request: web.Request) -> str:
    """Where GitHub sends the person back: under `PATCHBOT_PUBLIC_URL` when set (behind a
    proxy that ends TLS, the request's own address is the proxy's upstream one)."""
    public = request.config_dict[dashboard.SETTINGS].public_url
    if public:
        return f"{public.rstrip('/')}{dashboard.PREFIX}/callback"
    return str(request.url.with_path(f"{dashboard.PREFIX}/callback").with_query(None))


def _set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, seconds: float
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(seconds),
        path=COOKIE_PATH,
        httponly=True,
        samesite="Lax",
        secure=request.secure or request.headers.get("X-Forwarded-Proto") == "https",
    )


async def start(request: web.Request) -> web.StreamResponse:
    settings = request.config_dict[dashboard.SETTINGS]
    if settings.github_client_id is None or settings.github_client_secret is None:
        return page(
            "message.html",
            request,
            status=503,
            title="Sign-in is not set up",
            text="Set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET (the GitHub App's client id and "
            "a client secret from its settings page) and restart `patchbot serve`; machines "
            "can use PATCHBOT_UI_TOKEN meanwhile.",
        )
    pending = PendingSignIn(
        state=secrets.token_urlsafe(24),
        next=_safe_next(request.query.get("next")),
        expires_at=time.time() + SIGN_IN_SECONDS,
    )
    target = authorize_url(
        settings.github_web_url, settings.github_client_id, _callback_url(request), pending.state
    )
    response = web.HTTPFound(target)
    sealed = request.config_dict[dashboard.SIGNER].seal(pending)
    _set_cookie(request, response, SIGN_IN_COOKIE, sealed, SIGN_IN_SECONDS)
    raise response


async def callback(request: web.Request) -> web.StreamResponse:
    settings = request.config_dict[dashboard.SETTINGS]
    signer = request.config_dict[dashboard.SIGNER]
    pending = signer.open(request.cookies.get(SIGN_IN_COOKIE), PendingSignIn)
    state, code = request.query.get("state", ""), request.query.get("code", "")
    if pending is None or not hmac.compare_digest(state.encode(), pending.state.encode()):
        return _refused(request, "this sign-in did not start here, or took too long")
    if not code or settings.github_client_id is None or settings.github_client_secret is None:
        return _refused(request, "GitHub sent no code back")
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            github = UserAccess(http, settings.github_web_url, settings.github_api_url)
            token = await github.token_for(
                code,
                settings.github_client_id,
                settings.github_client_secret.get_secret_value(),
                _callback_url(request),
            )
            login = await github.login(token)
            repositories = await github.readable_repositories(token)
    except SignInFailed as failure:
        return _refused(request, str(failure))
    sealed = signer.seal(session_for(login, repositories, settings.ui_session_hours))
    if len(sealed) > MAX_COOKIE:
        return _refused(
            request,
            f"you can read {len(repositories)} repositories of the App, more than a session "
            "can hold; ask an operator for PATCHBOT_UI_TOKEN",
        )
    response = web.HTTPFound(pending.next)
    _set_cookie(request, response, SESSION_COOKIE, sealed, settings.ui_session_hours * 3600)
    response.del_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
    raise response


async def sign_out(request: web.Request) -> web.StreamResponse:
    response = web.HTTPFound(f"{dashboard.PREFIX}/login")
    response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    raise response


def _refused(request: web.Request, why: str) -> web.Response:
    return page(
        "message.html",
        request,
        status=403,
        title="Sign-in refused",
        text=f"{why}. Sign in again from the dashboard's first page.",
    )
