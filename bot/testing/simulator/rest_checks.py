"""Check runs and commit statuses."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.testing.simulator import gitrepo
from bot.testing.simulator.context import (
    answer,
    json_body,
    not_found,
    repo_for,
    simulated,
    validation_failed,
)
from bot.testing.simulator.shapes import Json
from bot.testing.simulator.shapes_activity import check_run_json, pull_minimal, status_json
from bot.testing.simulator.state import CheckRun, CommitStatus, Repo, now_iso

routes = web.RouteTableDef()
REPO = "/repos/{owner}/{repo}"
STATUSES = {"queued", "in_progress", "completed", "waiting", "requested", "pending"}
CONCLUSIONS = {
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
}


async def _render(request: web.Request, repo: Repo, run: CheckRun) -> Json:
    sim = simulated(request)
    prs = []
    for pull in repo.pulls.values():
        head_sha = await gitrepo.ref_sha(repo.path, pull.head)
        if pull.state == "open" and head_sha == run.head_sha:
            base_sha = await gitrepo.ref_sha(repo.path, pull.base) or ""
            prs.append(pull_minimal(repo, pull, head_sha, base_sha, sim.urls))
    return check_run_json(sim.state.app, repo, run, prs, sim.urls)


def _apply(run: CheckRun, body: dict[str, Any]) -> str | None:
    """Update the run from a request body; the name of an invalid field, if any."""
    for name in ("name", "details_url", "external_id", "started_at", "completed_at"):
        if name in body:
            setattr(run, name, body[name])
    if "status" in body:
        if body["status"] not in STATUSES:
            return "status"
        run.status = body["status"]
    if "conclusion" in body:
        if body["conclusion"] not in CONCLUSIONS:
            return "conclusion"
        run.conclusion = body["conclusion"]
        run.status = "completed"
    if run.status == "completed":
        if run.conclusion is None:
            return "conclusion"
        run.completed_at = run.completed_at or now_iso()
    output = body.get("output")
    if isinstance(output, dict):
        if not output.get("title") or not output.get("summary"):
            return "output"
        run.output = {k: output.get(k) for k in ("title", "summary", "text")}
    return None


@routes.post(REPO + "/check-runs")
async def create_check_run(request: web.Request) -> web.Response:
    repo = repo_for(request)
    if repo is None:
        return not_found()
    body = await json_body(request) or {}
    if not isinstance(body.get("name"), str):
        return validation_failed("CheckRun", "name", "missing_field")
    head_sha = body.get("head_sha")
    if not isinstance(head_sha, str) or await gitrepo.ref_sha(repo.path, head_sha) is None:
        return validation_failed("CheckRun", "head_sha", "invalid", "No commit found for SHA")
    sim = simulated(request)
    run = CheckRun(sim.state.new_id(), head_sha, body["name"], check_suite_id=sim.state.new_id())
    invalid = _apply(run, body)
    if invalid is not None:
        return validation_failed("CheckRun", invalid, "invalid")
    repo.check_runs[run.id] = run
    return answer(await _render(request, repo, run), 201)


@routes.patch(REPO + "/check-runs/{check_run_id}")
async def update_check_run(request: web.Request) -> web.Response:
    repo = repo_for(request)
    run_id = request.match_info["check_run_id"]
    run = repo.check_runs.get(int(run_id)) if repo and run_id.isdigit() else None
    if repo is None or run is None:
        return not_found()
    invalid = _apply(run, await json_body(request) or {})
    if invalid is not None:
        return validation_failed("CheckRun", invalid, "invalid")
    return answer(await _render(request, repo, run))


@routes.post(REPO + "/statuses/{sha}")
async def create_status(request: web.Request) -> web.Response:
    repo = repo_for(request)
    if repo is None:
        return not_found()
    sha = request.match_info["sha"]
    if await gitrepo.ref_sha(repo.path, sha) is None:
        return validation_failed("Status", "sha", "invalid", "No commit found for SHA")
    body = await json_body(request) or {}
    if body.get("state") not in ("error", "failure", "pending", "success"):
        return validation_failed("Status", "state", "invalid")
    sim = simulated(request)
    status = CommitStatus(
        id=sim.state.new_id(),
        sha=sha,
        state=body["state"],
        context=body.get("context") or "default",
        description=body.get("description"),
        target_url=body.get("target_url"),
        creator=sim.state.app.bot,
    )
    repo.statuses.append(status)
    return answer(status_json(repo, status, sim.urls), 201)


@routes.get(REPO + "/commits/{ref}/check-runs")
async def list_check_runs_for_ref(request: web.Request) -> web.Response:
    repo = repo_for(request)
    if repo is None:
        return not_found()
    sha = await gitrepo.ref_sha(repo.path, request.match_info["ref"])
    name = request.query.get("check_name")
    runs = [
        await _render(request, repo, run)
        for run in repo.check_runs.values()
        if sha is not None and run.head_sha == sha and (name is None or run.name == name)
    ]
    return answer({"total_count": len(runs), "check_runs": runs})
