"""Who may ask (GitHub's collaborator permission, never a bot: no loops), and the replies
that queue or stop a run."""

from __future__ import annotations

import logging

from gidgethub.abc import GitHubAPI

from bot.github.payloads import IssueCommentEvent, User
from bot.github.permissions import permission_of
from bot.handlers import messages
from bot.runs.models import ActiveRunExists, NewRun, Run, RunState
from bot.runs.store import RunStore
from bot.settings import Settings, permission_at_least

COMMENTS_URL = "/repos/{owner}/{repo}/issues/{number}/comments"
REACTIONS_URL = "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"
REPLY_INTERVAL = 600.0
"""Seconds between two replies of one kind (a refusal, "busy") on one issue."""

log = logging.getLogger(__name__)


def is_bot(user: User, settings: Settings) -> bool:
    """Bots, Patchbot itself above all, never trigger anything."""
    return user.is_bot or user.login.lower() == settings.bot_login.lower()


async def has_permission(gh: GitHubAPI, settings: Settings, repository: str, user: User) -> bool:
    """Whether a person (never a bot) has the minimum permission to steer Patchbot."""
    if is_bot(user, settings):
        return False
    permission = await permission_of(gh, repository, user.login)
    return permission_at_least(permission, settings.min_permission)


async def may_ask(
    gh: GitHubAPI, store: RunStore, settings: Settings, repository: str, issue: int, sender: User
) -> bool:
    """Whether the sender has the minimum permission; if not, tell them, briefly (at most once
    in a while on the same issue)."""
    if await has_permission(gh, settings, repository, sender):
        return True
    text = messages.REFUSED.format(
        login=sender.login,
        permission=settings.min_permission,
        label=settings.trigger_label,
        prefix=settings.command_prefix,
    )
    await reply_now_and_then(gh, store, repository, issue, "refused", text)
    return False


async def is_replay(store: RunStore, key: str, delivery_id: str | None) -> bool:
    """Whether the trigger `key` (`comment:ID`, a label event) was acted on under another
    delivery id: a captured, signed body sent again. A trigger is acted on once."""
    if await store.claim_trigger(key, delivery_id):
        return False
    log.warning(
        "%s was acted on before; delivery %s replays it and is ignored",
        key,
        delivery_id,
        extra={"delivery_id": delivery_id},
    )
    return True


async def reply_now_and_then(
    gh: GitHubAPI, store: RunStore, repository: str, issue: int, kind: str, body: str
) -> None:
    """A reply to a trigger that changes nothing (a refusal, "busy"), posted at most once per
    REPLY_INTERVAL for each kind on an issue: a burst of repeated triggers gets one answer."""
    if await store.allow_reply(f"reply:{repository}#{issue}:{kind}", REPLY_INTERVAL):
        await comment(gh, repository, issue, body)


async def comment(gh: GitHubAPI, repository: str, issue: int, body: str) -> None:
    owner, repo = repository.split("/", 1)
    await gh.post(
        COMMENTS_URL,
        url_vars={"owner": owner, "repo": repo, "number": str(issue)},
        data={"body": body},
    )


async def react(gh: GitHubAPI, repository: str, comment_id: int, content: str) -> None:
    """Acknowledge a comment with a reaction (`eyes`, `+1`, ...)."""
    owner, repo = repository.split("/", 1)
    await gh.post(
        REACTIONS_URL,
        url_vars={"owner": owner, "repo": repo, "comment_id": str(comment_id)},
        data={"content": content},
    )


async def queue_run(gh: GitHubAPI, store: RunStore, settings: Settings, new: NewRun) -> Run | None:
    """Queue the run; None when it was not new (a redelivery) or the issue already has an
    active run, which the requester is told in a short reply (at most once in a while)."""
    try:
        run, created = await store.create_run(new)
    except ActiveRunExists as busy:
        text = messages.BUSY.format(
            login=new.requester,
            run_id=busy.run.id,
            state=busy.run.state.value,
            prefix=settings.command_prefix,
        )
        await reply_now_and_then(gh, store, new.repository, new.issue, "busy", text)
        return None
    return run if created else None


async def queued_notice(gh: GitHubAPI, settings: Settings, run: Run, how: str, ahead: int) -> None:
    """The run's status comment while it waits: who asked, and its place in the queue
    (`ahead`: `RunStore.runs_ahead`)."""
    waiting = f" {ahead} queued run(s) are ahead of it." if ahead else ""
    text = messages.QUEUED.format(
        run_id=run.id, login=run.requester, how=how, waiting=waiting, prefix=settings.command_prefix
    )
    await comment(gh, run.repository, run.issue, text)


async def stop_active(
    gh: GitHubAPI, store: RunStore, payload: IssueCommentEvent, issue: int
) -> None:
    """`/patchbot stop` on the issue, or on the pull request that fixes `issue`."""
    repository, number = payload.repository.full_name, payload.issue.number
    login = payload.sender.login
    active = await store.active_run(repository, issue)
    if active is None:
        await comment(gh, repository, number, messages.NOTHING_TO_STOP.format(login=login))
        return
    stopped = await store.cancel_run(active.id)
    if stopped.state is RunState.CANCELLED:
        what = f"run #{stopped.id} had not started yet; it is cancelled."
    else:
        what = f"stopping run #{stopped.id}; its sandbox is removed and nothing is pushed."
    await react(gh, repository, payload.comment.id, "+1")
    await comment(
        gh, repository, number, messages.STOPPING.format(run_id=stopped.id, login=login, what=what)
    )
