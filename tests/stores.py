"""Fixtures for the store, worker, web and handler tests (a pytest plugin, see
tests/conftest.py): a throwaway PostgreSQL server, stores of both kinds, settings, and the
simulated GitHub whose deliveries the web app receives."""

from __future__ import annotations

import contextlib
import itertools
import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.handlers import build_router
from bot.handlers.dispatcher import Dispatcher
from bot.runs.store import RunStore, opened_store
from bot.settings import Settings
from bot.testing.loopback import free_port as loopback_port
from bot.testing.postgres import new_database, postgres_bin, temporary_postgres
from bot.testing.recording_gh import RecordingGitHubAPI
from bot.testing.simulator import GitHubSimulator
from bot.testing.webhooks import build_delivery
from bot.web.app import create_app
from tests.conftest import unavailable
from tests.simulated import REPO_NAME, seed

PG_BIN = postgres_bin()
SECRET = "test-webhook-secret-1234"
_database_numbers = itertools.count(1)


@pytest.fixture
def free_port() -> int:
    """A loopback TCP port nothing listens on."""
    return loopback_port()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server in a temp dir on a loopback port; yields its base URL."""
    if not (PG_BIN / "initdb").exists():
        unavailable(
            f"PostgreSQL server binaries not found in {PG_BIN} (apt-get install postgresql)"
        )
    with temporary_postgres() as url:
        yield url


@pytest.fixture
def built_image(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(images folder, name) of a sandbox image this test built from that folder (a Dockerfile
    on top of the python image), so it is current whatever others build meanwhile; removed
    at the end."""
    import docker

    from bot.sandbox.images import ImageSpec, build

    name = f"readyz-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "images" / name
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text("FROM patchbot-sandbox-python:latest\n")
    spec = ImageSpec(name, folder)
    client = docker.from_env()
    build(spec, client)
    try:
        yield folder.parent, name
    finally:
        client.images.remove(spec.tag, force=True)
        client.close()


@pytest.fixture
async def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database on the throwaway server."""
    name = f"patchbot_test_{os.getpid()}_{next(_database_numbers)}"
    return await new_database(postgres_server, name)


async def execute_sql(database_url: str, *statements: str) -> None:
    """Run statements on the database behind the store's back (an older release's rows)."""
    import asyncpg

    from bot.runs.store import sqlite_path

    if database_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(sqlite_path(database_url))) as db, db:
            for statement in statements:
                db.execute(statement)
        return
    connection = await asyncpg.connect(database_url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store, once for each kind of database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'patchbot.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[RunStore]:
    async with opened_store(database_url) as opened:
        yield opened


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings.from_env(
        {
            "WEBHOOK_SECRET": SECRET,
            "DATABASE_URL": database_url,
            "PATCHBOT_DATA_DIR": str(tmp_path / "data"),
            "GITHUB_API_URL": "http://127.0.0.1:9",
            "PATCHBOT_LEASE_SECONDS": "2",
            "PATCHBOT_POLL_SECONDS": "0.05",
        }
    )


@pytest.fixture
async def github(tmp_path: Path, app_private_key: str) -> AsyncIterator[GitHubSimulator]:
    """The GitHub the deliveries come from (see `simulated.py`)."""
    async with GitHubSimulator(tmp_path / "github", private_key_pem=app_private_key) as simulator:
        seed(simulator)
        yield simulator


class Intake:
    """The running web app (real HTTP) receiving the simulator's deliveries, its store and the
    GitHub double it talks to."""

    def __init__(
        self,
        client: Any,
        gh: RecordingGitHubAPI,
        store: RunStore,
        dispatcher: Any,
        github: GitHubSimulator,
    ) -> None:
        self.client = client
        self.gh = gh
        self.store = store
        self.dispatcher = dispatcher
        self.github = github
        """Acting on it (`label_issue`, `comment_on`, ...) delivers to the app."""

    async def post(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        delivery_id: str | None = None,
        secret: str | None = SECRET,
    ) -> Any:
        """Deliver `payload` with the given id, signed with `secret` (None: unsigned)."""
        delivery = build_delivery(event, payload, secret=secret, delivery_id=delivery_id)
        return await self.client.post("/webhooks", data=delivery.body, headers=delivery.headers)

    def allow(self, login: str, role: str) -> None:
        """Script GitHub's answer to the permission check of `login` on the repository."""
        self.gh.allow(REPO_NAME, login, role)

    async def settle(self) -> None:
        """Wait until the deliveries sent so far have been handled."""
        await self.dispatcher.drain()


@pytest.fixture
async def intake(
    aiohttp_client: Any, store: RunStore, settings: Settings, github: GitHubSimulator
) -> Intake:
    gh = RecordingGitHubAPI(base_url=settings.github_api_url)

    async def installation_api(installation_id: int) -> RecordingGitHubAPI:
        return gh

    dispatcher = Dispatcher(store, settings, installation_api, build_router())
    app = create_app(webhook_secret=SECRET, store=store, dispatcher=dispatcher)
    client = await aiohttp_client(app)
    github.send_webhooks_to(str(client.make_url("/webhooks")), SECRET)
    return Intake(client, gh, store, dispatcher, github)
