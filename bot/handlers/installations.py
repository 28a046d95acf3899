"""`installation` and `installation_repositories` events: remember where the App is installed."""

from __future__ import annotations

from typing import Any

from gidgethub import routing, sansio
from gidgethub.abc import GitHubAPI

from bot.github.payloads import InstallationEvent, InstallationRepositoriesEvent
from bot.runs.models import Installation
from bot.runs.store import RunStore

router = routing.Router()


@router.register("installation")
async def on_installation(
    event: sansio.Event, gh: GitHubAPI, *args: Any, store: RunStore, **kwargs: Any
) -> None:
    payload = InstallationEvent.model_validate(event.data)
    installation = payload.installation
    if payload.action == "deleted":
        await store.delete_installation(installation.id)
        return
    known = await store.get_installation(installation.id)
    if payload.repositories is not None:
        repositories = sorted(repo.full_name for repo in payload.repositories)
    else:
        repositories = known.repositories if known else []
    suspended = payload.action == "suspend" or (
        installation.suspended_at is not None and payload.action != "unsuspend"
    )
    await store.save_installation(
        Installation(
            id=installation.id,
            account=installation.account.login,
            repository_selection=installation.repository_selection,
            repositories=repositories,
            suspended=suspended,
        )
    )


@router.register("installation_repositories")
async def on_repositories(
    event: sansio.Event, gh: GitHubAPI, *args: Any, store: RunStore, **kwargs: Any
) -> None:
    payload = InstallationRepositoriesEvent.model_validate(event.data)
    installation = payload.installation
    known = await store.get_installation(installation.id)
    repositories = set(known.repositories if known else [])
    repositories -= {repo.full_name for repo in payload.repositories_removed}
    repositories |= {repo.full_name for repo in payload.repositories_added}
    await store.save_installation(
        Installation(
            id=installation.id,
            account=installation.account.login,
            repository_selection=payload.repository_selection,
            repositories=sorted(repositories),
            suspended=known.suspended if known else False,
        )
    )
