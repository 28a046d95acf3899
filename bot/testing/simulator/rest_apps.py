"""The app and installation endpoints: `GET /app`, access tokens, repositories, rate limit."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from aiohttp import web

from bot.testing.simulator.context import TOKEN, answer, error, found, simulated
from bot.testing.simulator.shapes import APP_PERMISSIONS, app_json, repo_json
from bot.testing.simulator.state import Token

routes = web.RouteTableDef()


@routes.get("/app")
async def get_app(request: web.Request) -> web.Response:
    sim = simulated(request)
    return answer({**app_json(sim.state.app, sim.urls), "installations_count": 1})


@routes.post("/app/installations/{installation_id}/access_tokens")
async def create_access_token(request: web.Request) -> web.Response:
    sim = simulated(request)
    number = request.match_info["installation_id"]
    installation = found(sim.state.installations.get(int(number)) if number.isdigit() else None)
    if installation.suspended_at is not None:
        return error(403, "This installation has been suspended")
    token = sim.state.mint_token(installation.id, sim.token_lifetime)
    expires = datetime.fromtimestamp(token.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return answer(
        {
            "token": token.token,
            "expires_at": expires,
            "permissions": APP_PERMISSIONS,
            "repository_selection": "selected",
        },
        201,
    )


@routes.get("/installation/repositories")
async def installation_repositories(request: web.Request) -> web.Response:
    sim = simulated(request)
    token: Token = request[TOKEN]
    installation = sim.state.installations.get(token.installation_id)
    if installation is None:
        return error(401, "Bad credentials")
    repos = [sim.state.repos[name] for name in sorted(installation.repositories)]
    return answer(
        {
            "total_count": len(repos),
            "repository_selection": "selected",
            "repositories": [repo_json(r, sim.urls) for r in repos],
        }
    )


@routes.get("/rate_limit")
async def rate_limit(request: web.Request) -> web.Response:
    reset = int(time.time()) + 3600

    def bucket(limit: int) -> dict[str, int]:
        return {"limit": limit, "remaining": limit - 1, "reset": reset, "used": 1}

    return answer(
        {
            "resources": {
                "core": bucket(5000),
                "search": bucket(30),
                "graphql": bucket(5000),
                "integration_manifest": bucket(5000),
            },
            "rate": bucket(5000),
        }
    )
