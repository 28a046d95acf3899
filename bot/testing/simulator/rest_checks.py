"""Check runs (Patchbot's own, and reading other apps') and commit statuses."""

from __future__ import annotations

from typing import Any

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
from bot.testing.simulator.shapes_activity import status_json
from bot.testing.simulator.shapes_checks import (
    CONCLUSIONS,
    annotation,
    annotation_json,
    check_run_json,
)
from bot.testing.simulator.shapes_pulls import open_pulls_at
from bot.testing.simulator.state import CheckRun, CommitStatus, Repo, now_iso

routes = web.RouteTableDef()
STATUSES = {"queued", "in_progress", "completed", "waiting", "requested", "pending"}


async def _render(request: web.Request, repo: Repo, run: CheckRun) -> Json:
    urls = simulated(request).urls
    return check_run_json(repo, run, await open_pulls_at(repo, run.head_sha, urls), urls)


def _run(repo: Repo, run_id: str) -> CheckRun:
    return found(repo.check_runs.get(int(run_id)) if run_id.isdigit() else None)


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
        try:  # GitHub adds each request's annotations to those the run already has
            run.annotations.extend(annotation(a) for a in output.get("annotations", []))
        except (KeyError, TypeError):
            return "output"
    return None


@routes.post(REPO + "/check-runs")
async def create_check_run(request: web.Request) -> web.Response:
    repo = repo_for(request)
    body = await json_body(request) or {}
    if not isinstance(body.get("name"), str):
        return validation_failed("CheckRun", "name", "missing_field")
    head_sha = body.get("head_sha")
    if not isinstance(head_sha, str) or await gitrepo.ref_sha(repo.path, head_sha) is None:
        return validation_failed("CheckRun", "head_sha", "invalid", "No commit found for SHA")
    sim = simulated(request)
    suite = repo.check_suite(sim.state.app, head_sha)
    suite_id = suite[0].check_suite_id if suite else sim.state.new_id()
    run = CheckRun(
        sim.state.new_id(), head_sha, body["name"], sim.state.app, check_suite_id=suite_id
    )
    invalid = _apply(run, body)
    if invalid is not None:
        return validation_failed("CheckRun", invalid, "invalid")
    repo.check_runs[run.id] = run
    return answer(await _render(request, repo, run), 201)


@routes.patch(REPO + "/check-runs/{check_run_id}")
async def update_check_run(request: web.Request) -> web.Response:
    repo = repo_for(request)
    run = _run(repo, request.match_info["check_run_id"])
    app = simulated(request).state.app
    if run.app.id != app.id:
        return error(
            403,
            f"Invalid app_id `{app.id}` - check run can only be modified by the GitHub App "
            "that created it.",
        )
    invalid = _apply(run, await json_body(request) or {})
    if invalid is not None:
        return validation_failed("CheckRun", invalid, "invalid")
    return answer(await _render(request, repo, run))


@routes.get(REPO + "/check-runs/{check_run_id}")
async def get_check_run(request: web.Request) -> web.Response:
    repo = repo_for(request)
    run = _run(repo, request.match_info["check_run_id"])
    return answer(await _render(request, repo, run))


@routes.get(REPO + "/check-runs/{check_run_id}/annotations")
async def list_annotations(request: web.Request) -> web.Response:
    repo = repo_for(request)
    run = _run(repo, request.match_info["check_run_id"])
    urls = simulated(request).urls
    page, headers = paginate(request, run.annotations)
    return answer([annotation_json(repo, run, a, urls) for a in page], headers=headers)


@routes.post(REPO + "/statuses/{sha}")
async def create_status(request: web.Request) -> web.Response:
    repo = repo_for(request)
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
    sha = await gitrepo.ref_sha(repo.path, request.match_info["ref"])
    name = request.query.get("check_name")
    matching = [
        run
        for run in repo.check_runs.values()
        if run.head_sha == sha and (name is None or run.name == name)
    ]
    urls = simulated(request).urls
    prs = await open_pulls_at(repo, sha, urls) if sha and matching else []  # all runs share it
    runs = [check_run_json(repo, run, prs, urls) for run in matching]
    return answer({"total_count": len(runs), "check_runs": runs})
