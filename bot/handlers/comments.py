"""`issue_comment` events: slash commands (`/patchbot fix`, `retry`, `stop`, `help`, ...)."""

from __future__ import annotations

from typing import Any

from gidgethub import routing, sansio
from gidgethub.abc import GitHubAPI

from bot.github.commands import Command, CommandName, parse_command
from bot.github.markers import MARKER
from bot.github.payloads import IssueCommentEvent
from bot.github.permissions import permission_of
from bot.handlers import messages
from bot.handlers.access import (
    comment,
    is_bot,
    is_replay,
    may_ask,
    queue_run,
    queued_notice,
    react,
    stop_active,
)
from bot.handlers.pulls import on_pull_command
from bot.runs.models import NewRun, RunNotFound, RunState
from bot.runs.store import RunStore
from bot.settings import Settings

router = routing.Router()


@router.register("issue_comment", action="created")
async def on_comment(
    event: sansio.Event,
    gh: GitHubAPI,
    *args: Any,
    store: RunStore,
    settings: Settings,
    **kwargs: Any,
) -> None:
    payload = IssueCommentEvent.model_validate(event.data)
    if is_bot(payload.sender, settings) or is_bot(payload.comment.user, settings):
        return
    if MARKER in payload.comment.body:  # our own text, quoted or copied
        return
    command = parse_command(payload.comment.body, settings.command_prefix)
    if command is None or await is_replay(
        store, f"comment:{payload.comment.id}", event.delivery_id
    ):
        return
    repository, number = payload.repository.full_name, payload.issue.number
    if command.name is CommandName.HELP:
        await comment(
            gh,
            repository,
            number,
            messages.HELP.format(
                permission=settings.min_permission,
                prefix=settings.command_prefix,
                label=settings.trigger_label,
            ),
        )
        return
    if payload.issue.pull_request is not None:
        await on_pull_command(event, gh, store, settings, payload, command)
        return
    if not await may_ask(gh, store, settings, repository, number, payload.sender):
        return
    if command.name in (CommandName.FIX, CommandName.RETRY):
        await _start(gh, store, settings, event, payload, command)
    elif command.name is CommandName.STOP:
        await stop_active(gh, store, payload, number)
    elif command.name in (CommandName.APPROVE, CommandName.REJECT):
        await _decide(gh, store, settings, payload, command)
    else:  # revise, update: pull request commands
        text = messages.ISSUE_COMMANDS.format(
            login=payload.sender.login, prefix=settings.command_prefix, command=command.name.value
        )
        await comment(gh, repository, number, text)


async def _start(
    gh: GitHubAPI,
    store: RunStore,
    settings: Settings,
    event: sansio.Event,
    payload: IssueCommentEvent,
    command: Command,
) -> None:
    repository, number = payload.repository.full_name, payload.issue.number
    instructions = command.arguments
    if command.name is CommandName.RETRY and not instructions:
        last = await store.latest_run(repository, number)
        instructions = last.instructions if last else ""
    run = await queue_run(
        gh,
        store,
        settings,
        NewRun(
            repository=repository,
            issue=number,
            requester=payload.sender.login,
            trigger="retry" if command.name is CommandName.RETRY else "comment",
            instructions=instructions,
            installation_id=payload.installation_id,
            delivery_id=event.delivery_id,
        ),
    )
    if run is not None:
        await react(gh, repository, payload.comment.id, "eyes")
        ahead = await store.runs_ahead(run.id)
        if ahead:  # it waits: say so, where the run will report
            how = f"`{settings.command_prefix} {command.name.value}`"
            await queued_notice(gh, settings, run, how, ahead)


async def _decide(
    gh: GitHubAPI,
    store: RunStore,
    settings: Settings,
    payload: IssueCommentEvent,
    command: Command,
) -> None:
    """`/patchbot approve` or `reject` a run that a policy gate paused."""
    from bot.policy.decisions import TriggerRequest
    from bot.policy.gates import approver_gate
    from bot.policy.model import Policy
    from bot.runs.held import HeldPatch

    repository, number = payload.repository.full_name, payload.issue.number
    login, verb = payload.sender.login, command.name.value
    active = await store.active_run(repository, number)
    hold = await store.get_hold(active.id) if active is not None else None
    if active is None or active.state is not RunState.AWAITING_APPROVAL or hold is None:
        text = messages.NOTHING_TO_DECIDE.format(login=login, command=verb)
        await comment(gh, repository, number, text)
        return
    held = HeldPatch.model_validate_json(hold.content)
    approver = TriggerRequest(
        sender=login,
        permission=await permission_of(gh, repository, login),
        is_bot=is_bot(payload.sender, settings),
    )
    allowed = approver_gate(Policy(approval=held.approval), approver, held.requester)
    if allowed.verdict != "allow":
        text = messages.MAY_NOT_DECIDE.format(
            login=login, command=verb, run_id=active.id, reason=allowed.reason
        )
        await comment(gh, repository, number, text)
        return
    approve = command.name is CommandName.APPROVE
    try:
        run = await store.decide(active.id, login, "approved" if approve else "rejected")
    except RunNotFound:  # someone else decided a moment ago
        text = messages.NOTHING_TO_DECIDE.format(login=login, command=verb)
        await comment(gh, repository, number, text)
        return
    await react(gh, repository, payload.comment.id, "+1")
    what = (
        f"approved run #{run.id}: Patchbot pushes its verified patch now."
        if approve
        else f"rejected run #{run.id}: its patch is dropped and nothing is pushed."
    )
    await comment(
        gh, repository, number, messages.DECIDED.format(run_id=run.id, login=login, what=what)
    )
