"""A whole Patchbot on loopback: the GitHub simulator, the scripted model, the webhook server
(with the dashboard under `/ui/`, people signing in through the simulator) and its workers
running the real pull-request pipeline. The demo, the end-to-end tests and
the end-to-end benchmark all start this one assembly.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.agent.scripted import ScriptedModel, ScriptedServer
from bot.dashboard.app import PREFIX, dashboard_app
from bot.handlers import build_router
from bot.handlers.dispatcher import Dispatcher
from bot.runs.models import Run, RunState
from bot.runs.pipeline import Pipeline
from bot.runs.store import RunStore, open_store
from bot.runs.worker import Worker
from bot.settings import Settings
from bot.testing.loopback import served
from bot.testing.simulator import GitHubSimulator
from bot.web.app import create_app
from bot.web.github_app import installation_apis

MAINTAINER = "maintainer"
"""A login with write access to every seeded repository."""


class LocalStack:
    """Start with `async with LocalStack(root, trajectory)`; seed a repository, label an issue,
    then `await stack.finished_run(...)`."""

    def __init__(
        self,
        root: Path,
        trajectory: list[dict[str, Any]],
        *,
        workers: int = 1,
        pipeline: Pipeline | None = None,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        self.github = GitHubSimulator(root / "github")
        self.model = ScriptedServer(ScriptedModel(trajectory))
        self.workers_wanted = workers
        self.pipeline = pipeline
        self.extra_environment = environment or {}
        self.webhook_secret = secrets.token_hex(16)
        self._exit = contextlib.AsyncExitStack()
        self.settings: Settings
        self.store: RunStore
        self.workers: list[Worker] = []
        self.url = ""

    def environment(self) -> dict[str, str]:
        """The variables a real deployment would set, pointed at the simulated parts."""
        return {
            "APP_ID": str(self.github.app_id),
            "PRIVATE_KEY": self.github.private_key_pem,
            "WEBHOOK_SECRET": self.webhook_secret,
            "GITHUB_API_URL": self.github.api_url,
            "DATABASE_URL": f"sqlite:///{self.root / 'patchbot.db'}",
            "PATCHBOT_DATA_DIR": str(self.root / "data"),
            "PATCHBOT_MODEL": "openai/scripted",
            "PATCHBOT_MODEL_API_BASE": self.model.api_base,
            "PATCHBOT_POLL_SECONDS": "0.2",
            "GITHUB_CLIENT_ID": self.github.client_id,
            "GITHUB_CLIENT_SECRET": self.github.client_secret,
            **self.extra_environment,
        }

    async def __aenter__(self) -> LocalStack:
        from bot.pipeline.run import GitHubPipeline

        try:
            await self._exit.enter_async_context(self.github)
            await self._exit.enter_async_context(self.model)
            self.settings = Settings.from_env(self.environment())
            self.store = await open_store(self.settings.database_url)
            self._exit.push_async_callback(self.store.close)
            github = await self._exit.enter_async_context(installation_apis(self.settings))
            dispatcher = Dispatcher(self.store, self.settings, github, build_router())
            pipeline = self.pipeline or GitHubPipeline()
            self.workers = [
                Worker(self.store, pipeline, self.settings) for _ in range(self.workers_wanted)
            ]
            app = create_app(
                webhook_secret=self.webhook_secret,
                store=self.store,
                dispatcher=dispatcher,
                workers=self.workers,
            )
            app.add_subapp(PREFIX, dashboard_app(self.settings, self.store))
            self.url = await self._exit.enter_async_context(served(app))
            self.github.send_webhooks_to(f"{self.url}/webhooks", self.webhook_secret)
        except BaseException:
            await self._exit.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._exit.aclose()

    async def seed(self, full_name: str, source: Path, title: str, body: str) -> int:
        """A repository holding `source`, installed for the app, with one open issue; its
        number. `MAINTAINER` may trigger runs there."""
        self.github.add_repo(full_name, source=source)
        installation = self.github.add_installation(full_name.split("/")[0], [full_name])
        self.github.add_collaborator(full_name, MAINTAINER, "write")
        await self.github.announce_installation(installation.id)
        return self.github.add_issue(full_name, title, body, author=MAINTAINER).number

    async def finished_run(
        self, full_name: str, issue: int, *, timeout: float = 300, until_paused: bool = False
    ) -> Run:
        """Wait until the issue's latest run has ended (or, `until_paused`, waits for an
        approval)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = await self.store.latest_run(full_name, issue)
            paused = until_paused and run is not None and run.state is RunState.AWAITING_APPROVAL
            if run is not None and (paused or not run.state.active):
                return run
            await asyncio.sleep(0.2)
        raise TimeoutError(f"no run of {full_name}#{issue} finished within {timeout:g} s")
