"""Other apps' failed checks on Patchbot's pull request: each becomes feedback (its output and
annotations) and asks for a repair run; the policy bounds how many, in the run. Patchbot's own
checks, checks on an older commit and pull requests a human must look at are left alone.
"""

from __future__ import annotations

from typing import Any

from gidgethub import routing, sansio
from gidgethub.abc import GitHubAPI

from bot.github.markdown import cut_middle
from bot.github.markers import CHECK_NAME, NEEDS_HUMAN_LABEL
from bot.github.payloads import AppRef, CheckRun, CheckRunEvent, CheckSuiteEvent, PullRequest
from bot.handlers.pulls import ask_for_revision, fixed_issue
from bot.runs.models import NewFeedback
from bot.runs.revisions import RevisionRequest
from bot.runs.store import RunStore
from bot.settings import Settings

router = routing.Router()

FAILED = ("failure", "timed_out")
"""Check conclusions that ask for a repair run."""
MAX_ANNOTATIONS = 50
MAX_CHECK_TEXT = 8000
"""Characters of a check's summary and text kept: a huge log must not become the prompt."""


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
    await _repair(event, gh, store, settings, payload, payload.check_run)


@router.register("check_suite", action="completed")
async def on_check_suite(
    event: sansio.Event,
    gh: GitHubAPI,
    *args: Any,
    store: RunStore,
    settings: Settings,
    **kwargs: Any,
) -> None:
    """A failed suite of another app: its failed check runs, as `check_run` would give them
    (an app may send suites only)."""
    payload = CheckSuiteEvent.model_validate(event.data)
    suite = payload.check_suite
    if suite.conclusion not in FAILED or ours(suite.app, settings):
        return
    repository = payload.repository.full_name
    found = await gh.getitem(f"/repos/{repository}/commits/{suite.head_sha}/check-runs")
    for item in found.get("check_runs", []):
        if (item.get("check_suite") or {}).get("id") == suite.id:
            await _repair(event, gh, store, settings, payload, CheckRun.model_validate(item))


def ours(app: AppRef | None, settings: Settings) -> bool:
    """Whether a check is Patchbot's own (or of no app: GitHub's own suites)."""
    return app is None or (settings.app_id is not None and app.id == settings.app_id)


def foreign(check: CheckRun, settings: Settings) -> bool:
    """Whether a check run is another app's: not Patchbot's, nor named like its own."""
    return not ours(check.app, settings) and check.name != CHECK_NAME


async def _repair(
    event: sansio.Event,
    gh: GitHubAPI,
    store: RunStore,
    settings: Settings,
    payload: CheckRunEvent | CheckSuiteEvent,
    check: CheckRun,
) -> None:
    """A failed check of another app on the head of Patchbot's pull request asks for a repair
    run (the policy bounds how many, in the run). Patchbot's own checks never do."""
    if check.conclusion not in FAILED or not foreign(check, settings):
        return
    repository, name = payload.repository, payload.repository.full_name
    for listed in check.pull_requests:
        pull_data = await gh.getitem(f"/repos/{name}/pulls/{listed.number}")
        pull = PullRequest.model_validate(pull_data)
        issue = fixed_issue(pull, repository, settings)
        labels = {label.get("name") for label in pull_data.get("labels") or []}
        if issue is None or pull.state != "open" or pull.head.sha != check.head_sha:
            continue  # not ours, closed, or an older commit's result
        if NEEDS_HUMAN_LABEL in labels:
            continue  # Patchbot gave up on it; a human looks first
        app = check.app.slug if check.app is not None and check.app.slug else "another app"
        kept = await store.add_feedback(
            NewFeedback(
                repository=name,
                pull_request=pull.number,
                kind="check",
                author=app,
                body=await _check_text(gh, name, check),
                source_id=check.id,
                delivery_id=event.delivery_id,
            )
        )
        if kept:
            request = RevisionRequest(
                name, pull.number, issue, app, "ci", payload.installation_id, event.delivery_id
            )
            await ask_for_revision(gh, store, settings, request, f"the failed check `{check.name}`")


async def _check_text(gh: GitHubAPI, repository: str, check: CheckRun) -> str:
    """The failure as the agent reads it: the check's output and its annotations."""
    output = check.output
    parts = [f"Check `{check.name}` ({check.app.slug if check.app else 'app'}): {check.conclusion}"]
    for text in (output.title, output.summary, output.text):
        if text:
            parts.append(text.strip())
    # The start says what failed, the end sums it up: a huge log keeps both.
    body = cut_middle("\n\n".join(parts), MAX_CHECK_TEXT)
    if output.annotations_count:
        url = f"/repos/{repository}/check-runs/{check.id}/annotations"
        lines = []
        async for note in gh.getiter(url):
            where = f"{note.get('path')}:{note.get('start_line')}"
            level = note.get("annotation_level", "")
            lines.append(f"- {where} [{level}] {note.get('title') or ''} {note.get('message', '')}")
            if len(lines) >= MAX_ANNOTATIONS:
                break
        body += "\n\nAnnotations:\n" + "\n".join(line[:500] for line in lines)
    return body
