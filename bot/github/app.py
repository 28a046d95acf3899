"""The GitHub App client as the settings describe it (APP_ID, PRIVATE_KEY[_PATH],
GITHUB_API_URL): what `serve`, the worker and the delivery replays build their GitHub access
from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from bot.settings import Settings

if TYPE_CHECKING:
    from bot.github.client import GitHubApp


def require_app_key(settings: Settings) -> None:
    """The App's ID and private key are set and the key signs a JWT; ConfigError saying step
    by step what to fix otherwise. For start-up: fail now, not at the first webhook or run."""
    from bot.github.auth import app_jwt

    app_jwt(*settings.require_app_credentials())


@asynccontextmanager
async def github_app(settings: Settings) -> AsyncIterator[GitHubApp]:
    """The App client, closed afterwards."""
    from pydantic import SecretStr

    from bot.github.client import GitHubApp, GitHubClientConfig

    app_id, private_key = settings.require_app_credentials()
    config = GitHubClientConfig(
        api_url=settings.github_api_url, app_id=app_id, private_key=SecretStr(private_key)
    )
    async with GitHubApp(config) as app:
        yield app
