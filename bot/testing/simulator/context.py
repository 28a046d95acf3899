"""What every simulator request handler reaches through `request.config_dict`."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from bot.testing.simulator.shapes import Urls
from bot.testing.simulator.state import Repo, SimulatorState, Token, User

DOCS = "https://docs.github.com/rest"
REPO = "/repos/{owner}/{repo}"
"""The prefix of every repository route: `repo_for` reads its `owner` and `repo`."""
T = TypeVar("T")


@dataclass
class RecordedRequest:
    """One request the simulator answered, for tests to assert on (retries, auth)."""

    method: str
    path: str
    query: str
    status: int
    auth: str
    """How the request authenticated, by its Authorization scheme: "bearer" (an app JWT, or a
    token sent as Bearer), "token", "basic" or "none"."""
    at: float = field(default_factory=time.time)


@dataclass
class Simulated:
    """The state and settings shared by the simulator's handlers."""

    state: SimulatorState
    urls: Urls
    public_key: str
    requests: list[RecordedRequest] = field(default_factory=list)
    token_lifetime: float = 3600.0
    """Seconds a minted installation token lives (GitHub: one hour)."""


SIMULATED: web.AppKey[Simulated] = web.AppKey("simulated", Simulated)
TOKEN: web.RequestKey[Token] = web.RequestKey("simulator_token", Token)
"""Key in `request` under which the auth middleware stores the installation `Token`."""
USER: web.RequestKey[User] = web.RequestKey("simulator_user", User)
"""Key in `request` under which the auth middleware stores the person a user token acts as."""


def simulated(request: web.Request) -> Simulated:
    return request.config_dict[SIMULATED]


def rate_limit_headers(remaining: int = 4999) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "5000",
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(int(time.time()) + 3600),
        "X-RateLimit-Used": str(5000 - remaining),
        "X-RateLimit-Resource": "core",
    }


def answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data).encode(),
        content_type="application/json",
        charset="utf-8",
        headers={**rate_limit_headers(), **(headers or {})},
    )


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"message": message, "documentation_url": DOCS, "status": str(status)}


def error(
    status: int,
    message: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = _error_body(status, message)
    if errors is not None:
        body["errors"] = errors
    return answer(body, status, headers)


def not_found() -> web.HTTPNotFound:
    """GitHub's 404, to raise: it ends the handler, so a handler looks up the repository,
    then the issue, pull or run in it, one line each."""
    return web.HTTPNotFound(
        text=json.dumps(_error_body(404, "Not Found")),
        content_type="application/json",
        headers=rate_limit_headers(),
    )


def found(item: T | None) -> T:
    """`item`, or GitHub's 404 raised when there is none."""
    if item is None:
        raise not_found()
    return item


def validation_failed(resource: str, field_name: str, code: str, message: str = "") -> web.Response:
    detail: dict[str, Any] = {"resource": resource, "field": field_name, "code": code}
    if message:
        detail["message"] = message
    return error(422, "Validation Failed", [detail])


def repo_for(request: web.Request) -> Repo:
    """The repository named in the path; 404 unless it exists and the request's token may
    see it."""
    sim = simulated(request)
    full_name = f"{request.match_info['owner']}/{request.match_info['repo']}"
    repo = found(sim.state.repo(full_name))
    if not sim.state.reaches(request.get(TOKEN), repo):
        raise not_found()
    return repo


def paginate(request: web.Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """One page of `items` per `per_page`/`page`, with GitHub's `Link` header."""
    try:
        per_page = min(100, max(1, int(request.query.get("per_page", "30"))))
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        per_page, page = 30, 1
    last = max(1, -(-len(items) // per_page))
    links = []
    base = request.url.with_query({**request.query, "per_page": str(per_page)})
    web_url = simulated(request).urls.web
    for rel, number in (("next", page + 1), ("last", last)):
        if page < last:
            url = base.update_query(page=str(number))
            links.append(f'<{web_url}{url.path_qs}>; rel="{rel}"')
    headers = {"Link": ", ".join(links)} if links else {}
    return items[(page - 1) * per_page : page * per_page], headers


async def json_body(request: web.Request) -> dict[str, Any] | None:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None
