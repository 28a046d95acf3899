"""Who may ask: GitHub's collaborator permission, and never the bots (no loops)."""

from __future__ import annotations

from typing import Any

import gidgethub
from gidgethub.abc import GitHubAPI

from bot.github.payloads import User
from bot.handlers import messages
from bot.runs.models import ActiveRunExists, NewRun, Run
from bot.runs.store import RunStore
from bot.settings import PERMISSION_ORDER, Settings, permission_at_least

PERMISSION_URL = "/repos/{owner}/{repo}/collaborators/{username}/permission"
COMMENTS_URL = "/repos/{owner}/{repo}/issues/{number}/comments"
REACTIONS_URL = "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"


def is_bot(user: User, settings: Settings) -> bool:
    """Bots, Patchbot itself above all, never trigger anything."""
    return user.is_bot or user.login.lower() == settings.bot_login.lower()


async def permission_of(gh: GitHubAPI, repository: str, login: str) -> str:
    """The user's role on the repository (`none` for a stranger)."""
    owner, repo = repository.split("/", 1)
    try:
        answer: dict[str, Any] = await gh.getitem(
            PERMISSION_URL, url_vars={"owner": owner, "repo": repo, "username": login}
        )
    except gidgethub.BadRequest as error:
        if error.status_code == 404:  # not a collaborator at all
            return "none"
        raise
    role = answer.get("role_name")
    if role in PERMISSION_ORDER:
        return str(role)
    return str(answer.get("permission", "none"))


async def may_ask(
    gh: GitHubAPI, settings: Settings, repository: str, issue: int, sender: User
) -> bool:
    """Whether the sender has the minimum permission; if not, tell them once, briefly."""
    if permission_at_least(
        await permission_of(gh, repository, sender.login), settings.min_permission
    ):
        return True
    await comment(
        gh,
        repository,
        issue,
        messages.REFUSED.format(
            login=sender.login,
            permission=settings.min_permission,
            label=settings.trigger_label,
            prefix=settings.command_prefix,
        ),
    )
    return False


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
    active run, which the requester is told, once, in a short reply."""
    try:
        run, created = await store.create_run(new)
    except ActiveRunExists as busy:
        text = messages.BUSY.format(
            login=new.requester,
            run_id=busy.run.id,
            state=busy.run.state.value,
            prefix=settings.command_prefix,
        )
        await comment(gh, new.repository, new.issue, text)
        return None
    return run if created else None
