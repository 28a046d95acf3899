"""The web side of signing in (`sign_in.py`): the authorize page a person's browser is sent
to, and the code-for-token exchange the app's server makes. Not under the REST prefix, as on
GitHub (`https://github.com/login/oauth/...`)."""

from __future__ import annotations

import html
from urllib.parse import urlencode

from aiohttp import web

from bot.testing.simulator.context import answer, simulated

routes = web.RouteTableDef()

_PAGE = """<!doctype html>
<html><head><title>Sign in to GitHub (simulated)</title></head>
<body>
<h1>Sign in to GitHub to continue to {app}</h1>
<form method="post" action="/login/oauth/authorize">
<input type="hidden" name="client_id" value="{client_id}">
<input type="hidden" name="redirect_uri" value="{redirect_uri}">
<input type="hidden" name="state" value="{state}">
<label>Username <input id="login_field" name="login" autofocus></label>
<button id="authorize" type="submit">Sign in and authorize</button>
</form>
</body></html>
"""


@routes.get("/login/oauth/authorize")
async def authorize_page(request: web.Request) -> web.Response:
    sim = simulated(request)
    query = request.query
    if query.get("client_id") != sim.state.sign_ins.client_id:
        return web.Response(status=404, text="Not Found: no application has this client_id")
    fields = {
        name: html.escape(query.get(name, ""), quote=True)
        for name in ("client_id", "redirect_uri", "state")
    }
    page = _PAGE.format(app=html.escape(sim.state.app.name), **fields)
    return web.Response(text=page, content_type="text/html")


@routes.post("/login/oauth/authorize")
async def authorize(request: web.Request) -> web.Response:
    """The person signed in as `login` and authorized the app: back to the app with a code."""
    sim = simulated(request)
    form = await request.post()
    login, redirect_uri = str(form.get("login", "")).strip(), str(form.get("redirect_uri", ""))
    if form.get("client_id") != sim.state.sign_ins.client_id or not redirect_uri:
        return web.Response(status=400, text="client_id and redirect_uri are required")
    if login not in sim.state.users:
        return web.Response(status=401, text="Incorrect username or password.")
    code = sim.state.sign_ins.grant(login, redirect_uri)
    back = urlencode({"code": code, "state": str(form.get("state", ""))})
    raise web.HTTPFound(f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{back}")


@routes.post("/login/oauth/access_token")
async def access_token(request: web.Request) -> web.Response:
    """A code for a user access token. GitHub answers errors with 200 and an `error` field."""
    sign_ins = simulated(request).state.sign_ins
    form = await request.post() if request.content_type != "application/json" else {}
    data = {**form, **(await request.json() if request.content_type == "application/json" else {})}
    token = sign_ins.exchange(
        str(data.get("client_id", "")),
        str(data.get("client_secret", "")),
        str(data.get("code", "")),
        str(data.get("redirect_uri", "")),
    )
    if not token.startswith("ghu_"):
        return answer({"error": token, "error_description": token.replace("_", " ")})
    return answer({"access_token": token, "token_type": "bearer", "scope": ""})
