"""`issues` events: the trigger label added to an issue queues a run."""

from __future__ import annotations

from typing import Any

from gidgethub import routing, sansio
from gidgethub.abc import GitHubAPI

from bot.github.payloads import IssuesEvent
from bot.handlers.access import is_bot, is_replay, may_ask, queue_run, queued_notice
from bot.runs.models import NewRun
from bot.runs.store import RunStore
from bot.settings import Settings

router = routing.Router()


@router.register("issues", action="labeled")
async def on_labeled(
    event: sansio.Event,
    gh: GitHubAPI,
    *args: Any,
    store: RunStore,
    settings: Settings,
    **kwargs: Any,
) -> None:
    payload = IssuesEvent.model_validate(event.data)
    label = payload.label
    if label is None or label.name.lower() != settings.trigger_label.lower():
        return
    if is_bot(payload.sender, settings) or payload.issue.pull_request is not None:
        return
    repository, number = payload.repository.full_name, payload.issue.number
    # The issue's `updated_at` is when the label went on: removing and adding it again is a
    # new event, the same body sent again is not.
    when = payload.issue.updated_at or event.delivery_id
    if await is_replay(
        store, f"label:{repository}#{number}:{label.name.lower()}:{when}", event.delivery_id
    ):
        return
    if not await may_ask(gh, store, settings, repository, number, payload.sender):
        return
    run = await queue_run(
        gh,
        store,
        settings,
        NewRun(
            repository=repository,
            issue=number,
            requester=payload.sender.login,
            trigger="label",
            installation_id=payload.installation_id,
            delivery_id=event.delivery_id,
        ),
    )
    if run is not None:
        # A label has no comment to react to (and the issue reactions endpoint is not one the
        # App relies on), so the acknowledgement is a short status comment instead; later
        # steps of the run find it by its marker and edit it.
        how = f"the `{settings.trigger_label}` label"
        await queued_notice(gh, settings, run, how, await store.runs_ahead(run.id))
