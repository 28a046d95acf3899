"""The dashboard served on loopback over a SQLite store, with the GitHub simulator for people
signing in, and a helper that writes a run's trace."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.dashboard.app import PREFIX, dashboard_app
from bot.runs.pipeline import trace_path
from bot.runs.store import RunStore, opened_store
from bot.settings import Settings
from bot.testing.loopback import served
from bot.testing.simulator import GitHubSimulator

UI_TOKEN = "machine-token-for-the-dashboard-0123"


@dataclass
class Dashboard:
    url: str
    store: RunStore
    settings: Settings
    github: GitHubSimulator

    def write_trace(self, run_id: int, events: list[dict[str, Any]]) -> Path:
        path = trace_path(self.settings.data_dir, run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(event) + "\n" for event in events))
        return path


@pytest.fixture
async def dashboard(tmp_path: Path) -> AsyncIterator[Dashboard]:
    async with GitHubSimulator(tmp_path / "github") as github:
        settings = Settings.from_env(
            {
                "DATABASE_URL": f"sqlite:///{tmp_path / 'patchbot.db'}",
                "PATCHBOT_DATA_DIR": str(tmp_path / "data"),
                "GITHUB_API_URL": github.api_url,
                "GITHUB_CLIENT_ID": github.client_id,
                "GITHUB_CLIENT_SECRET": github.client_secret,
                "PATCHBOT_UI_TOKEN": UI_TOKEN,
            }
        )
        async with opened_store(settings.database_url) as store:
            app = web.Application()
            app.add_subapp(PREFIX, dashboard_app(settings, store))
            async with served(app) as url:
                yield Dashboard(url, store, settings, github)
