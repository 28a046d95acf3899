"""Events on Patchbot's own pull requests: reviews, line comments, `/patchbot revise` and
`update`, and closing (other apps' failed checks: `checks.py`).

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
from bot.github.markers import MARKER
from bot.github.payloads import (
    IssueCommentEvent,
    PullRequest,
    PullRequestEvent,
    PullRequestReviewCommentEvent,
    PullRequestReviewEvent,
    Repository,
    ReviewComment,
)
from bot.handlers import messages
from bot.handlers.access import (
    comment,
    has_permission,
    may_ask,
    react,
    reply_now_and_then,
    stop_active,
)
from bot.runs.models import NewFeedback
from bot.runs.revisions import RevisionRequest, request_revision
from bot.runs.store import RunStore
from bot.settings import Settings

log = logging.getLogger(__name__)
router = routing.Router()

BRANCH = re.compile(r"patchbot/issue-(\d+)(?:-[a-z0-9-]*)?")


def fixed_issue(pull: PullRequest, repository: Repository, settings: Settings) -> int | None:
    """The issue a pull request of Patchbot's own fixes (from its branch); None for any other."""
    if pull.user.login.lower() != settings.bot_login.lower():
        return None
    head = pull.head.repo
    if head is None or head.full_name.lower() != repository.full_name.lower():
        return None
    match = BRANCH.fullmatch(pull.head.ref)
    return int(match.group(1)) if match else None


async def ask_for_revision(
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
    if how == "queued":
        await comment(gh, repository, number, text)
    else:
        await reply_now_and_then(gh, store, repository, number, how, text)


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
        await ask_for_revision(gh, store, settings, request, f"the review by @{review.user.login}")


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
    if issue is None or pull.state != "open" or MARKER in item.body:
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
        await ask_for_revision(gh, store, settings, request, f"the comment by @{item.user.login}")


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
    if not await may_ask(gh, store, settings, repository, number, payload.sender):
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
    await ask_for_revision(gh, store, settings, request, what)


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
