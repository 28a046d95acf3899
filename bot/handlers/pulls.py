"""Events on Patchbot's own pull requests: reviews, line comments, `/patchbot revise` and
`update`, failing checks of other apps, and closing.

Feedback is kept in the store, and only from people with the minimum permission: text from
anyone else never reaches the model. A pull request is Patchbot's when the App opened it from
its own `patchbot/issue-N-...` branch in the same repository; every other one is ignored.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gidgethub import routing, sansio
from gidgethub.abc import GitHubAPI

from bot.github.commands import Command, CommandName, parse_command
from bot.github.payloads import (
    CheckRun,
    CheckRunEvent,
    CheckSuiteEvent,
    IssueCommentEvent,
    PullRequest,
    PullRequestEvent,
    PullRequestReviewCommentEvent,
    PullRequestReviewEvent,
    Repository,
    ReviewComment,
)
from bot.handlers import messages
from bot.handlers.access import comment, has_permission, may_ask, react, stop_active
from bot.handlers.messages import CHECK_NAME, NEEDS_HUMAN_LABEL
from bot.runs.models import NewFeedback
from bot.runs.revisions import RevisionRequest, request_revision
from bot.runs.store import RunStore
from bot.settings import Settings

log = logging.getLogger(__name__)
router = routing.Router()

BRANCH = re.compile(r"patchbot/issue-(\d+)(?:-[a-z0-9-]*)?")
FAILED = ("failure", "timed_out")
"""Check conclusions that ask for a repair run."""
MAX_ANNOTATIONS = 50
MAX_CHECK_TEXT = 8000
"""Characters of a check's summary and text kept: a huge log must not become the prompt."""


def fixed_issue(pull: PullRequest, repository: Repository, settings: Settings) -> int | None:
    """The issue a pull request of Patchbot's own fixes (from its branch); None for any other."""
    if pull.user.login.lower() != settings.bot_login.lower():
        return None
    head = pull.head.repo
    if head is None or head.full_name.lower() != repository.full_name.lower():
        return None
    match = BRANCH.fullmatch(pull.head.ref)
    return int(match.group(1)) if match else None


async def _ask(
    gh: GitHubAPI,
    store: RunStore,
    settings: Settings,
    request: RevisionRequest,
    what: str,
) -> None:
    """Queue the revision (or join the queued one) and say so on the pull request."""
    run, how = await request_revision(store, request, settings.revision_delay)
    repository, number = request.repository, request.pull_request
    if how == "queued":
        text = messages.REVISION_QUEUED.format(
            run_id=run.id, iteration=run.iteration, what=what, prefix=settings.command_prefix
        )
    elif how == "waiting":
        text = messages.REVISION_WAITING.format(run_id=run.id, login=request.requester)
    elif how == "busy":
        text = messages.BUSY.format(
            login=request.requester,
            run_id=run.id,
            state=run.state.value,
            prefix=settings.command_prefix,
        )
    else:
        return  # joined the queued run, which already said so
    await comment(gh, repository, number, text)


def _line_feedback(
    repository: str, number: int, item: ReviewComment, delivery_id: str | None
) -> NewFeedback:
    return NewFeedback(
        repository=repository,
        pull_request=number,
        kind="line",
        author=item.user.login,
        body=item.body,
        source_id=item.id,
        path=item.path,
        line=item.line or item.original_line,
        diff_hunk=item.diff_hunk,
        review_id=item.pull_request_review_id,
        delivery_id=delivery_id,
    )


@router.register("pull_request_review", action="submitted")
async def on_review(
    event: sansio.Event,
    gh: GitHubAPI,
    *args: Any,
    store: RunStore,
    settings: Settings,
    **kwargs: Any,
) -> None:
    payload = PullRequestReviewEvent.model_validate(event.data)
    pull, review = payload.pull_request, payload.review
    issue = fixed_issue(pull, payload.repository, settings)
    if issue is None or pull.state != "open":
        return
    repository, number = payload.repository.full_name, pull.number
    if not await has_permission(gh, settings, repository, review.user):
        log.info(
            "review %d on %s#%d: %s may not steer Patchbot",
            review.id,
            repository,
            number,
            review.user.login,
        )
        return
    # GitHub delivers each line comment of the review on its own too, in no set order; asking
    # for them here means the run has them even when this delivery comes first.
    url = f"/repos/{repository}/pulls/{number}/reviews/{review.id}/comments"
    async for item in gh.getiter(url):
        line = ReviewComment.model_validate(item)
        await store.add_feedback(_line_feedback(repository, number, line, event.delivery_id))
    command = parse_command(review.body or "", settings.command_prefix)
    asks = review.state.lower() == "changes_requested" or (
        command is not None and command.name is CommandName.REVISE
    )
    if not asks:
        return  # its comments wait for a review that asks for changes, or `/patchbot revise`
    kept = await store.add_feedback(
        NewFeedback(
            repository=repository,
            pull_request=number,
            kind="review",
            author=review.user.login,
            body=review.body or "",
            source_id=review.id,
            delivery_id=event.delivery_id,
        )
    )
    if kept:
        request = RevisionRequest(
            repository,
            number,
            issue,
            review.user.login,
            "review",
            payload.installation_id,
            event.delivery_id,
        )
        await _ask(gh, store, settings, request, f"the review by @{review.user.login}")


@router.register("pull_request_review_comment", action="created")
async def on_review_comment(
    event: sansio.Event,
    gh: GitHubAPI,
    *args: Any,
    store: RunStore,
    settings: Settings,
    **kwargs: Any,
) -> None:
    payload = PullRequestReviewCommentEvent.model_validate(event.data)
    pull, item = payload.pull_request, payload.comment
    issue = fixed_issue(pull, payload.repository, settings)
    if issue is None or pull.state != "open" or messages.MARKER in item.body:
        return
    repository, number = payload.repository.full_name, pull.number
    if not await has_permission(gh, settings, repository, item.user):
        return
    kept = await store.add_feedback(_line_feedback(repository, number, item, event.delivery_id))
    command = parse_command(item.body, settings.command_prefix)
    if kept and command is not None and command.name is CommandName.REVISE:
        # The request is kept as a `/patchbot revise` comment too: a line comment alone asks
        # for nothing, so a revision running now would otherwise not follow up on it.
        await store.add_feedback(
            NewFeedback(
                repository=repository,
                pull_request=number,
                kind="comment",
                author=item.user.login,
                body=command.arguments,
                source_id=item.id,
                delivery_id=event.delivery_id,
            )
        )
        request = RevisionRequest(
            repository,
            number,
            issue,
            item.user.login,
            "revise",
            payload.installation_id,
            event.delivery_id,
        )
        await _ask(gh, store, settings, request, f"the comment by @{item.user.login}")


async def on_pull_command(
    event: sansio.Event,
    gh: GitHubAPI,
    store: RunStore,
    settings: Settings,
    payload: IssueCommentEvent,
    command: Command,
) -> None:
    """A command in a comment on a pull request (`issue_comment` on a PR)."""
    repository, number = payload.repository.full_name, payload.issue.number
    login = payload.sender.login
    if command.name not in (CommandName.REVISE, CommandName.UPDATE, CommandName.STOP):
        text = messages.PULL_COMMANDS.format(
            login=login, prefix=settings.command_prefix, command=command.name.value
        )
        await comment(gh, repository, number, text)
        return
    pull = PullRequest.model_validate(await gh.getitem(f"/repos/{repository}/pulls/{number}"))
    issue = fixed_issue(pull, payload.repository, settings)
    if issue is None:
        await comment(gh, repository, number, messages.NOT_OURS.format(login=login))
        return
    if not await may_ask(gh, settings, repository, number, payload.sender):
        return
    if command.name is CommandName.STOP:
        await stop_active(gh, store, payload, issue)
        return
    if pull.state != "open":
        text = messages.PULL_CLOSED.format(login=login, command=command.name.value)
        await comment(gh, repository, number, text)
        return
    revise = command.name is CommandName.REVISE
    kept = await store.add_feedback(
        NewFeedback(
            repository=repository,
            pull_request=number,
            kind="comment" if revise else "update",
            author=login,
            body=command.arguments if revise else "",
            source_id=payload.comment.id,
            delivery_id=event.delivery_id,
        )
    )
    if not kept:
        return
    await react(gh, repository, payload.comment.id, "eyes")
    request = RevisionRequest(
        repository,
        number,
        issue,
        login,
        "revise" if revise else "update",
        payload.installation_id,
        event.delivery_id,
    )
    what = f"`{settings.command_prefix} {command.name.value}` by @{login}"
    await _ask(gh, store, settings, request, what)


@router.register("pull_request", action="closed")
async def on_closed(
    event: sansio.Event,
    gh: GitHubAPI,
    *args: Any,
    store: RunStore,
    settings: Settings,
    **kwargs: Any,
) -> None:
    """Closing or merging the pull request stops its queued or running revision."""
    payload = PullRequestEvent.model_validate(event.data)
    issue = fixed_issue(payload.pull_request, payload.repository, settings)
    if issue is None:
        return
    repository = payload.repository.full_name
    active = await store.active_run(repository, issue)
    if active is None or active.pull_request != payload.pull_request.number:
        return
    stopped = await store.cancel_run(active.id)
    log.info(
        "pull request %s#%d closed: stopping run %d", repository, stopped.pull_request, stopped.id
    )
    text = messages.CLOSED_CANCELLED.format(run_id=stopped.id)
    await comment(gh, repository, payload.pull_request.number, text)


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
    await _repair(event, gh, store, settings, payload.repository, payload.check_run)


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
    if suite.conclusion not in FAILED or _ours(suite.app, settings):
        return
    repository = payload.repository.full_name
    found = await gh.getitem(f"/repos/{repository}/commits/{suite.head_sha}/check-runs")
    for item in found.get("check_runs", []):
        if (item.get("check_suite") or {}).get("id") == suite.id:
            await _repair(
                event, gh, store, settings, payload.repository, CheckRun.model_validate(item)
            )


def _ours(app: Any, settings: Settings) -> bool:
    return app is None or (settings.app_id is not None and app.id == settings.app_id)


async def _repair(
    event: sansio.Event,
    gh: GitHubAPI,
    store: RunStore,
    settings: Settings,
    repository: Repository,
    check: CheckRun,
) -> None:
    """A failed check of another app on the head of Patchbot's pull request asks for a repair
    run (the policy bounds how many, in the run). Patchbot's own checks never do."""
    if check.conclusion not in FAILED or _ours(check.app, settings) or check.name == CHECK_NAME:
        return
    name = repository.full_name
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
            installation = (event.data.get("installation") or {}).get("id")
            request = RevisionRequest(
                name, pull.number, issue, app, "ci", installation, event.delivery_id
            )
            await _ask(gh, store, settings, request, f"the failed check `{check.name}`")


async def _check_text(gh: GitHubAPI, repository: str, check: CheckRun) -> str:
    """The failure as the agent reads it: the check's output and its annotations."""
    output = check.output
    parts = [f"Check `{check.name}` ({check.app.slug if check.app else 'app'}): {check.conclusion}"]
    for text in (output.title, output.summary, output.text):
        if text:
            parts.append(text.strip())
    body = "\n\n".join(parts)
    if len(body) > MAX_CHECK_TEXT:  # keep the start (what failed) and the end (the summary)
        half = MAX_CHECK_TEXT // 2
        body = (
            f"{body[:half]}\n[... {len(body) - MAX_CHECK_TEXT} characters cut ...]\n" + body[-half:]
        )
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
