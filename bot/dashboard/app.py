"""The dashboard as an aiohttp application, mounted at `/ui` by `patchbot serve`. Every page
but the sign-in's needs a viewer: a session cookie, or the machines' bearer token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.dashboard import pages, sign_in
from bot.dashboard.context import PREFIX, SETTINGS, SIGNER, STORE
from bot.dashboard.kpi_page import KPI_PAGES, KpiPages, kpi_page
from bot.dashboard.sessions import SESSION_COOKIE, VIEWER, Signer, Viewer, machine_viewer
from bot.runs.store import RunStore
from bot.settings import Settings

__all__ = ["PREFIX", "dashboard_app", "viewer_of"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN_PATHS = {f"{PREFIX}/login", f"{PREFIX}/callback"}
"""Paths a stranger may open: those of signing in."""


def dashboard_app(settings: Settings, store: RunStore) -> web.Application:
    """The dashboard's routes, to `add_subapp(PREFIX, ...)`. Sessions need
    GITHUB_CLIENT_SECRET (it keys their signatures); without it only the token gets in."""
    app = web.Application(middlewares=[_viewer_required])
    app[STORE] = store
    app[SETTINGS] = settings
    app[KPI_PAGES] = KpiPages()
    secret = settings.github_client_secret
    app[SIGNER] = Signer(secret.get_secret_value() if secret else "")
    app.router.add_get("/", pages.runs_page, name="runs")
    app.router.add_get("/runs/{run_id:\\d+}", pages.run_page, name="run")
    app.router.add_get("/approvals", pages.approvals_page, name="approvals")
    app.router.add_get("/kpi", kpi_page, name="kpi")
    app.router.add_get("/login", sign_in.start)
    app.router.add_get("/callback", sign_in.callback)
    app.router.add_post("/logout", sign_in.sign_out)
    return app


def viewer_of(request: web.Request) -> Viewer | None:
    """The request's viewer: the machines' token, else a valid session cookie, else None."""
    settings = request.config_dict[SETTINGS]
    token = settings.ui_token.get_secret_value() if settings.ui_token else None
    machine = machine_viewer(request.headers.get("Authorization", ""), token)
    if machine is not None:
        return machine
    if settings.github_client_secret is None:
        return None
    viewer: Viewer | None = request.config_dict[SIGNER].open(
        request.cookies.get(SESSION_COOKIE), Viewer
    )
    return viewer


@web.middleware
async def _viewer_required(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in OPEN_PATHS:
        return await handler(request)
    viewer = viewer_of(request)
    if viewer is None:
        if "Authorization" in request.headers:
            raise web.HTTPUnauthorized(text="the bearer token is not PATCHBOT_UI_TOKEN")
        raise web.HTTPFound(sign_in.login_url(request.path_qs))
    request[VIEWER] = viewer
    return await handler(request)
