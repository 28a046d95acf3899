"""Repositories: metadata, collaborator permissions, contents and git refs (from real git)."""

from __future__ import annotations

import base64
import re

from aiohttp import web

from bot.testing.simulator import gitrepo
from bot.testing.simulator.context import (
    REPO,
    answer,
    error,
    found,
    json_body,
    repo_for,
    simulated,
    validation_failed,
)
from bot.testing.simulator.shapes import Json, Urls, repo_json, user_json
from bot.testing.simulator.shapes_activity import ref_json
from bot.testing.simulator.state import Repo

routes = web.RouteTableDef()

# Fine-grained role -> the legacy `permission` field GitHub still returns beside it.
_LEGACY = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
}


@routes.get(REPO)
async def get_repo(request: web.Request) -> web.Response:
    repo = repo_for(request)
    data = repo_json(repo, simulated(request).urls)
    data.update(network_count=0, subscribers_count=1)  # only the repository's own answer
    data["permissions"] = {
        "admin": False,
        "maintain": False,
        "push": True,
        "triage": True,
        "pull": True,
    }
    return answer(data)


@routes.get(REPO + "/collaborators/{username}/permission")
async def collaborator_permission(request: web.Request) -> web.Response:
    repo = repo_for(request)
    sim = simulated(request)
    login = request.match_info["username"]
    user = found(sim.state.users.get(login))
    role = "admin" if login == repo.owner.login else repo.collaborators.get(login)
    if role is None:
        role_name, permission = ("read", "read") if not repo.private else ("none", "none")
    else:
        role_name, permission = role, _LEGACY[role]
    user_data = {**user_json(user, sim.urls), "role_name": role_name}
    return answer({"permission": permission, "role_name": role_name, "user": user_data})


def _content_json(repo: Repo, urls: Urls, kind: str, path: str, sha: str, size: int) -> Json:
    api = f"{urls.api}/repos/{repo.full_name}"
    kind = {"blob": "file", "tree": "dir", "commit": "submodule"}.get(kind, kind)
    html = f"{urls.web}/{repo.full_name}/{'blob' if kind == 'file' else 'tree'}"
    html = f"{html}/{repo.default_branch}/{path}"
    git_url = f"{api}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}"
    self_url = f"{api}/contents/{path}?ref={repo.default_branch}"
    return {
        "type": kind,
        "size": size,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "url": self_url,
        "git_url": git_url,
        "html_url": html,
        "download_url": f"{urls.web}/raw/{repo.full_name}/{repo.default_branch}/{path}"
        if kind == "file"
        else None,
        "_links": {"self": self_url, "git": git_url, "html": html},
    }


@routes.get(REPO + "/contents/{path:.*}")
async def get_contents(request: web.Request) -> web.Response:
    repo = repo_for(request)
    urls = simulated(request).urls
    commit = found(await gitrepo.ref_sha(repo.path, request.query.get("ref", repo.default_branch)))
    path = request.match_info["path"].strip("/")
    kind, sha, size = found(await gitrepo.object_at(repo.path, commit, path))
    if kind == "tree":
        entries = await gitrepo.tree_entries(repo.path, commit, path)
        return answer(
            [
                _content_json(repo, urls, k, f"{path}/{name}".lstrip("/"), s, n)
                for k, name, s, n in entries
            ]
        )
    data = _content_json(repo, urls, kind, path, sha, size)
    if kind == "blob":
        content = base64.encodebytes(await gitrepo.blob(repo.path, sha)).decode()
        data.update(content=content, encoding="base64")
    return answer(data)


@routes.get(REPO + "/git/ref/{ref:.+}")
async def get_ref(request: web.Request) -> web.Response:
    repo = repo_for(request)
    ref = "refs/" + request.match_info["ref"]
    sha = found(await gitrepo.ref_sha(repo.path, ref))
    return answer(ref_json(repo, ref, sha, simulated(request).urls))


@routes.post(REPO + "/git/refs")
async def create_ref(request: web.Request) -> web.Response:
    repo = repo_for(request)
    body = await json_body(request) or {}
    ref, sha = body.get("ref"), body.get("sha")
    if not isinstance(ref, str) or not re.fullmatch(r"refs/[\w./-]+", ref) or ref.count("/") < 2:
        return error(422, "Reference name must start with 'refs/' and have at least two slashes.")
    if not isinstance(sha, str) or await gitrepo.ref_sha(repo.path, sha) is None:
        return validation_failed("Reference", "sha", "invalid", "Object does not exist")
    if await gitrepo.ref_sha(repo.path, ref) is not None:
        return error(422, "Reference already exists")
    await gitrepo.update_ref(repo.path, ref, sha)
    return answer(
        ref_json(repo, ref, sha, simulated(request).urls),
        201,
        headers={"Location": f"{simulated(request).urls.api}/repos/{repo.full_name}/git/{ref}"},
    )
