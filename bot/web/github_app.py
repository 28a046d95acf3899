"""The GitHub API factory `serve` hands the dispatcher: one API object per installation,
authenticated as the App (JWT, cached installation tokens) by `bot.github.client`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.handlers.dispatcher import GitHubFactory
from bot.settings import Settings


@asynccontextmanager
async def installation_apis(settings: Settings) -> AsyncIterator[GitHubFactory]:
    """`async (installation_id) -> GitHubAPI` for as long as the context is open."""
    from pydantic import SecretStr

    from bot.github.client import GitHubApp, GitHubClientConfig

    app_id, private_key = settings.require_app_credentials()
    config = GitHubClientConfig(
        api_url=settings.github_api_url, app_id=app_id, private_key=SecretStr(private_key)
    )
    async with GitHubApp(config) as app:
        yield app.installation_api
