"""Pull requests: open, list by head, read, edit, request reviewers. Reviews: `rest_reviews.py`."""

from __future__ import annotations

from aiohttp import web

from bot.testing.simulator import gitrepo
from bot.testing.simulator.context import (
    REPO,
    answer,
    error,
    found,
    json_body,
    paginate,
    repo_for,
    simulated,
    validation_failed,
)
from bot.testing.simulator.shapes import Json
from bot.testing.simulator.shapes_pulls import pull_json, pull_simple
from bot.testing.simulator.state import Pull, Repo, now_iso

routes = web.RouteTableDef()


async def _render(request: web.Request, repo: Repo, pull: Pull, *, simple: bool = False) -> Json:
    sim = simulated(request)
    full = await pull_json(sim.state, repo, pull, sim.urls)
    return pull_simple(full) if simple else full


def pull_in(repo: Repo, number: str) -> Pull:
    """The pull numbered `number` (a path segment) in `repo`; 404 if none."""
    return found(repo.pulls.get(int(number)) if number.isdigit() else None)


def _refused(message: str) -> web.Response:
    """GitHub's 422 for a pull request refused as a whole, with no one field to blame."""
    errors = [{"resource": "PullRequest", "code": "custom", "message": message}]
    return error(422, "Validation Failed", errors)


@routes.post(REPO + "/pulls")
async def create_pull(request: web.Request) -> web.Response:
    repo = repo_for(request)
    body = await json_body(request) or {}
    title, head, base = body.get("title"), body.get("head"), body.get("base")
    for name, value in (("title", title), ("head", head), ("base", base)):
        if not isinstance(value, str) or not value:
            return validation_failed("PullRequest", name, "missing_field")
    assert isinstance(head, str) and isinstance(base, str) and isinstance(title, str)
    head_branch = head.split(":", 1)[-1]
    head_sha = await gitrepo.ref_sha(repo.path, f"refs/heads/{head_branch}")
    if head_sha is None:
        return validation_failed("PullRequest", "head", "invalid")
    base_sha = await gitrepo.ref_sha(repo.path, f"refs/heads/{base}")
    if base_sha is None:
        return validation_failed("PullRequest", "base", "invalid")
    if (await gitrepo.diff_stats(repo.path, base_sha, head_sha))[3] == 0:
        return _refused(f"No commits between {base} and {head_branch}")
    for other in repo.pulls.values():
        if other.state == "open" and other.head == head_branch and other.base == base:
            return _refused(f"A pull request already exists for {repo.owner.login}:{head_branch}.")
    sim = simulated(request)
    pull = Pull(
        number=repo.next_number(),
        id=sim.state.new_id(),
        title=title,
        body=body.get("body"),
        user=sim.state.app.bot,
        head=head_branch,
        base=base,
        draft=bool(body.get("draft", False)),
        maintainer_can_modify=bool(body.get("maintainer_can_modify", False)),
    )
    repo.pulls[pull.number] = pull
    return answer(await _render(request, repo, pull), 201)


@routes.get(REPO + "/pulls")
async def list_pulls(request: web.Request) -> web.Response:
    repo = repo_for(request)
    wanted_state = request.query.get("state", "open")
    head = request.query.get("head")
    base = request.query.get("base")
    pulls = []
    for pull in sorted(repo.pulls.values(), key=lambda p: -p.number):
        if wanted_state != "all" and pull.state != wanted_state:
            continue
        if head is not None and head != f"{repo.owner.login}:{pull.head}":
            continue
        if base is not None and base != pull.base:
            continue
        pulls.append(pull)
    page, headers = paginate(request, pulls)
    return answer([await _render(request, repo, p, simple=True) for p in page], headers=headers)


@routes.get(REPO + "/pulls/{number}")
async def get_pull(request: web.Request) -> web.Response:
    repo = repo_for(request)
    pull = pull_in(repo, request.match_info["number"])
    if "diff" in request.headers.get("Accept", ""):  # application/vnd.github.diff
        diff = await gitrepo.git(repo.path, "diff", f"{pull.base}...{pull.head}")
        return web.Response(body=diff, content_type="text/plain", charset="utf-8")
    return answer(await _render(request, repo, pull))


@routes.patch(REPO + "/pulls/{number}")
async def update_pull(request: web.Request) -> web.Response:
    repo = repo_for(request)
    pull = pull_in(repo, request.match_info["number"])
    body = await json_body(request) or {}
    if isinstance(body.get("title"), str):
        pull.title = body["title"]
    if "body" in body:
        pull.body = body["body"]
    if body.get("state") in ("open", "closed"):
        pull.state = body["state"]
        pull.closed_at = now_iso() if pull.state == "closed" else None
    if isinstance(body.get("base"), str):
        pull.base = body["base"]
    pull.updated_at = now_iso()
    return answer(await _render(request, repo, pull))


@routes.post(REPO + "/pulls/{number}/requested_reviewers")
async def request_reviewers(request: web.Request) -> web.Response:
    repo = repo_for(request)
    pull = pull_in(repo, request.match_info["number"])
    body = await json_body(request) or {}
    reviewers = body.get("reviewers", [])
    if not isinstance(reviewers, list):
        return validation_failed("PullRequest", "reviewers", "invalid")
    for login in reviewers:
        if login != repo.owner.login and login not in repo.collaborators:
            return error(
                422,
                "Reviews may only be requested from collaborators. "
                f"One or more of the users or teams you specified is not a "
                f"collaborator of the {repo.full_name} repository.",
            )
    for login in reviewers:
        if login not in pull.requested_reviewers:
            pull.requested_reviewers.append(login)
    return answer(await _render(request, repo, pull, simple=True), 201)
