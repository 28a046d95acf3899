"""What became of Patchbot's pull requests, as webhooks tell it: merged or closed (and by
whom), other apps' checks and statuses on its first push, people's pushes to its branch, and
a revert of its merge commit on the default branch. `reconcile.py` fills in missed ones."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from gidgethub import routing, sansio
from gidgethub.abc import GitHubAPI

from bot.github.payloads import (
    CheckRun,
    CheckRunEvent,
    CheckSuiteEvent,
    PullRequest,
    PullRequestEvent,
    PushEvent,
    StatusEvent,
)
from bot.handlers.checks import foreign, ours
from bot.handlers.pulls import fixed_issue
from bot.runs.models import CiResult, PullOutcome
from bot.runs.store import RunStore
from bot.settings import Settings

router = routing.Router()

CI_RESULTS: dict[str, CiResult] = {
    "success": "pass",
    "failure": "fail",
    "timed_out": "fail",
    "error": "fail",
}
"""Check conclusions and status states that say something; neutral, skipped, cancelled and
pending say nothing about the patch."""
REVERTS = re.compile(r"This reverts commit ([0-9a-fA-F]{7,40})")
"""What `git revert` (and GitHub's Revert button) writes in the revert's message."""


def unix_time(stamp: str | None) -> float | None:
    """An ISO 8601 time from GitHub as Unix time; None for none."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() if stamp else None


def closed_outcome(
    pull: PullRequest,
    repository: str,
    issue: int,
    installation_id: int | None,
    closed_by: str | None,
) -> PullOutcome:
    """A closed pull request's final state, from its webhook or its REST answer."""
    merged = bool(pull.merged or pull.merged_at)
    return PullOutcome(
        repository=repository,
        pull_request=pull.number,
        issue=issue,
        installation_id=installation_id,
        branch=pull.head.ref,
        opened_at=unix_time(pull.created_at),
        state="merged" if merged else "closed",
        merged_at=unix_time(pull.merged_at) if merged else None,
        merged_by=pull.merged_by.login if merged and pull.merged_by else None,
        merge_commit_sha=pull.merge_commit_sha if merged else None,
        closed_at=unix_time(pull.closed_at),
        closed_by=closed_by,
    )


def ci_result(check: CheckRun, settings: Settings) -> CiResult | None:
    """Another app's finished check run as CI on its commit; None for Patchbot's own, or for
    a conclusion that says neither pass nor fail."""
    return CI_RESULTS.get(check.conclusion or "") if foreign(check, settings) else None


@router.register("pull_request", action="closed")
async def on_closed(
    event: sansio.Event,
    gh: GitHubAPI,
    *args: Any,
    store: RunStore,
    settings: Settings,
    **kwargs: Any,
) -> None:
    payload = PullRequestEvent.model_validate(event.data)
    issue = fixed_issue(payload.pull_request, payload.repository, settings)
    if issue is not None:
        outcome = closed_outcome(
            payload.pull_request,
            payload.repository.full_name,
            issue,
            payload.installation_id,
            payload.sender.login,
        )
        await store.record_closed(outcome)


@router.register("pull_request", action="reopened")
async def on_reopened(
    event: sansio.Event,
    gh: GitHubAPI,
    *args: Any,
    store: RunStore,
    settings: Settings,
    **kwargs: Any,
) -> None:
    payload = PullRequestEvent.model_validate(event.data)
    if fixed_issue(payload.pull_request, payload.repository, settings) is not None:
        await store.record_reopened(payload.repository.full_name, payload.pull_request.number)


@router.register("pull_request", action="synchronize")
async def on_push_to_pull(
    event: sansio.Event,
    gh: GitHubAPI,
    *args: Any,
    store: RunStore,
    settings: Settings,
    **kwargs: Any,
) -> None:
    """A person's push to Patchbot's branch (Patchbot's own pushes are its revisions)."""
    payload = PullRequestEvent.model_validate(event.data)
    pull = payload.pull_request
    if payload.sender.login.lower() == settings.bot_login.lower():
        return
    if fixed_issue(pull, payload.repository, settings) is not None:
        await store.record_human_push(payload.repository.full_name, pull.number, pull.head.sha)


@router.register("check_run", action="completed")
async def on_check_run(
    event: sansio.Event,
    gh: GitHubAPI,
    *args: Any,
    store: RunStore,
    settings: Settings,
    **kwargs: Any,
) -> None:
    payload = CheckRunEvent.model_validate(event.data)
    check = payload.check_run
    result = ci_result(check, settings)
    if result:
        await store.record_ci(payload.repository.full_name, check.head_sha, result)


@router.register("check_suite", action="completed")
async def on_check_suite(
    event: sansio.Event,
    gh: GitHubAPI,
    *args: Any,
    store: RunStore,
    settings: Settings,
    **kwargs: Any,
) -> None:
    """An app may report suites only; one that also reports its runs says the same twice,
    which records the same result."""
    payload = CheckSuiteEvent.model_validate(event.data)
    suite = payload.check_suite
    result = CI_RESULTS.get(suite.conclusion or "")
    if result and not ours(suite.app, settings):
        await store.record_ci(payload.repository.full_name, suite.head_sha, result)


@router.register("status")
async def on_status(
    event: sansio.Event,
    gh: GitHubAPI,
    *args: Any,
    store: RunStore,
    settings: Settings,
    **kwargs: Any,
) -> None:
    payload = StatusEvent.model_validate(event.data)
    result = CI_RESULTS.get(payload.state)
    if result and payload.sender.login.lower() != settings.bot_login.lower():
        await store.record_ci(payload.repository.full_name, payload.sha, result)


def on_default_branch(data: dict[str, Any]) -> bool:
    """Whether a push event is to its repository's default branch: the only pushes acted on,
    so the others are answered without being stored."""
    repository = data.get("repository")
    default = repository.get("default_branch") if isinstance(repository, dict) else None
    return bool(default) and data.get("ref") == f"refs/heads/{default}"


@router.register("push")
async def on_push(
    event: sansio.Event,
    gh: GitHubAPI,
    *args: Any,
    store: RunStore,
    settings: Settings,
    **kwargs: Any,
) -> None:
    """A commit on the default branch that reverts a merge commit of Patchbot's (the dispatcher
    admits no other push: `on_default_branch`)."""
    payload = PushEvent.model_validate(event.data)
    repository = payload.repository
    for commit in payload.commits:
        for reverted in REVERTS.findall(commit.message):
            await store.record_revert(repository.full_name, reverted, commit.id)
