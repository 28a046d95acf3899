"""The API factory `serve` hands the dispatcher: one API object per installation,
authenticated as the App (JWT, cached installation tokens)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.github.app import github_app
from bot.handlers.dispatcher import GitHubFactory
from bot.settings import Settings


@asynccontextmanager
async def installation_apis(settings: Settings) -> AsyncIterator[GitHubFactory]:
    """`async (installation_id) -> GitHubAPI` for as long as the context is open."""
    async with github_app(settings) as app:
        yield app.installation_api
