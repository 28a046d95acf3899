"""Git smart HTTP at `/{owner}/{repo}.git/...`, served by `git http-backend` (CGI) per request.

Authentication as on GitHub: HTTP Basic with any user name and an installation token as the
password (`x-access-token:<token>`). Reads of public repositories need no token; pushes do.
"""

from __future__ import annotations

import asyncio
import subprocess

from aiohttp import web

from bot.testing.simulator.context import error, simulated
from bot.testing.simulator.faults import FAULTS
from bot.testing.simulator.gitrepo import git_env
from bot.testing.simulator.middleware import installation_token
from bot.testing.simulator.state import Repo

routes = web.RouteTableDef()
CGI_TIMEOUT = 120.0
"""Seconds one `git http-backend` request may take."""


def _unauthorized() -> web.Response:
    return web.Response(
        status=401,
        text="Invalid username or token. Password authentication is not supported.\n",
        headers={"WWW-Authenticate": 'Basic realm="GitHub"'},
    )


def _allowed(request: web.Request, repo: Repo, push: bool) -> bool:
    header = request.headers.get("Authorization", "")
    if header.partition(" ")[0].lower() != "basic":
        return not push and not repo.private
    return simulated(request).state.reaches(installation_token(request, header), repo)


@routes.route("*", "/{owner}/{name}.git/{tail:.*}")
async def git_http(request: web.Request) -> web.StreamResponse:
    sim = simulated(request)
    owner, name, tail = (request.match_info[k] for k in ("owner", "name", "tail"))
    repo = sim.state.repo(f"{owner}/{name}")
    if repo is None:
        return web.Response(status=404, text="Repository not found.\n")
    push = tail == "git-receive-pack" or request.query.get("service") == "git-receive-pack"
    if not _allowed(request, repo, push):
        return _unauthorized()
    body = await request.read()
    env = git_env()
    env.update(
        GIT_PROJECT_ROOT=str(repo.path.parent),
        GIT_HTTP_EXPORT_ALL="1",
        PATH_INFO=f"/{repo.path.name}/{tail}",
        QUERY_STRING=request.query_string,
        REQUEST_METHOD=request.method,
        CONTENT_TYPE=request.headers.get("Content-Type", ""),
        CONTENT_LENGTH=str(len(body)),
        REMOTE_USER="x-access-token",
        REMOTE_ADDR=request.remote or "127.0.0.1",
        GATEWAY_INTERFACE="CGI/1.1",
        SERVER_PROTOCOL="HTTP/1.1",
    )
    if "Content-Encoding" in request.headers:
        env["HTTP_CONTENT_ENCODING"] = request.headers["Content-Encoding"]
    if "Git-Protocol" in request.headers:
        env["HTTP_GIT_PROTOCOL"] = request.headers["Git-Protocol"]
    process = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(body), CGI_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        return web.Response(status=504, text="git http-backend timed out\n")
    lost = request.config_dict[FAULTS].take(request.method, request.path, served=True)
    if lost is not None and lost.status is not None:
        return error(lost.status, lost.message)
    return _cgi_response(out, err)


def _cgi_response(out: bytes, err: bytes) -> web.Response:
    head, sep, payload = out.partition(b"\r\n\r\n")
    if not sep:
        head, sep, payload = out.partition(b"\n\n")
    if not sep:
        return web.Response(status=500, text=f"git http-backend failed: {err.decode()}\n")
    status = 200
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.strip().split()[0])
        elif key:
            headers[key.strip()] = value.strip()
    return web.Response(status=status, body=payload, headers=headers)
