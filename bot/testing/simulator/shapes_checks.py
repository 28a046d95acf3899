"""JSON shaped like GitHub's answers and webhooks for check runs, their annotations and
check suites. A run shows the app that made it: Patchbot's own, or another app's (a CI)."""

from __future__ import annotations

from typing import Any

from bot.testing.simulator.shapes import Json, Urls, app_json, node_id
from bot.testing.simulator.state import CheckRun, Repo

# From the worst to the best: a suite concludes as its worst run (GitHub's rollup).
CONCLUSION_ORDER = (
    "action_required",
    "cancelled",
    "timed_out",
    "failure",
    "stale",
    "neutral",
    "skipped",
    "success",
)
CONCLUSIONS = frozenset(CONCLUSION_ORDER)


def check_run_json(repo: Repo, run: CheckRun, prs: list[Json], urls: Urls) -> Json:
    api = f"{urls.api}/repos/{repo.full_name}/check-runs/{run.id}"
    output = run.output
    return {
        "id": run.id,
        "node_id": node_id("CheckRun", run.id),
        "head_sha": run.head_sha,
        "external_id": run.external_id or "",  # GitHub's "none given"
        "url": api,
        "html_url": f"{urls.web}/{repo.full_name}/runs/{run.id}",
        "details_url": run.details_url or f"{urls.web}/apps/{run.app.slug}",
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "name": run.name,
        "output": {
            "title": output.get("title"),
            "summary": output.get("summary"),
            "text": output.get("text"),
            "annotations_count": len(run.annotations),
            "annotations_url": f"{api}/annotations",
        },
        "check_suite": {"id": run.check_suite_id},
        "app": app_json(run.app, urls),
        "pull_requests": prs,
    }


def annotation(raw: dict[str, Any]) -> dict[str, Any]:
    """An annotation as a check run's `output.annotations` gives it, with GitHub's defaults;
    KeyError names a missing required field (path, start_line, annotation_level, message)."""
    return {
        "path": raw["path"],
        "start_line": raw["start_line"],
        "end_line": raw.get("end_line", raw["start_line"]),
        "start_column": raw.get("start_column"),
        "end_column": raw.get("end_column"),
        "annotation_level": raw["annotation_level"],
        "title": raw.get("title"),
        "message": raw["message"],
        "raw_details": raw.get("raw_details"),
    }


def annotation_json(repo: Repo, run: CheckRun, item: dict[str, Any], urls: Urls) -> Json:
    """One entry of `GET /repos/{o}/{r}/check-runs/{id}/annotations`."""
    blob = f"{urls.web}/{repo.full_name}/blob/{run.head_sha}/{item['path']}"
    return {**item, "blob_href": blob}


def suite_conclusion(runs: list[CheckRun]) -> str | None:
    """The suite's conclusion: None while a run is unfinished, else the worst run's."""
    if any(run.status != "completed" or run.conclusion is None for run in runs):
        return None
    found = {run.conclusion for run in runs}
    return next((c for c in CONCLUSION_ORDER if c in found), None)


def check_suite_json(
    repo: Repo,
    runs: list[CheckRun],
    *,
    head_branch: str | None,
    before: str | None,
    head_commit: dict[str, str],
    prs: list[Json],
    urls: Urls,
) -> Json:
    """The `check_suite` of a `check_suite` webhook: one app's runs on one commit."""
    first = runs[0]
    api = f"{urls.api}/repos/{repo.full_name}/check-suites/{first.check_suite_id}"
    conclusion = suite_conclusion(runs)
    return {
        "id": first.check_suite_id,
        "node_id": node_id("CheckSuite", first.check_suite_id),
        "head_branch": head_branch,
        "head_sha": first.head_sha,
        "status": "completed" if conclusion else "in_progress",
        "conclusion": conclusion,
        "url": api,
        "before": before,
        "after": first.head_sha,
        "pull_requests": prs,
        "app": app_json(first.app, urls),
        "created_at": first.started_at,
        "updated_at": max(run.completed_at or run.started_at or "" for run in runs),
        "latest_check_runs_count": len(runs),
        "check_runs_url": f"{api}/check-runs",
        "head_commit": {
            "id": first.head_sha,
            "tree_id": head_commit["tree_id"],
            "message": head_commit["message"],
            "timestamp": head_commit["timestamp"],
            "author": {"name": head_commit["author_name"], "email": head_commit["author_email"]},
            "committer": {
                "name": head_commit["committer_name"],
                "email": head_commit["committer_email"],
            },
        },
    }
