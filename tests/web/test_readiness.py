"""`GET /readyz`: each check named with ok/error and a one-line reason, 503 when one fails, the
checks run at once with a timeout each, and the answer is cached a few seconds."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.agent.model import ModelConfig
from bot.github.app import github_app
from bot.handlers import build_router
from bot.handlers.dispatcher import Dispatcher
from bot.runs.store import RunStore, opened_store
from bot.settings import Settings
from bot.testing.simulator import GitHubSimulator, generate_private_key
from bot.web.app import create_app
from bot.web.readiness import (
    Check,
    Readiness,
    docker_check,
    github_check,
    images_check,
    model_check,
    store_check,
)

SECRET = "readyz-webhook-secret-1234"


@pytest.fixture
async def github(tmp_path: Path) -> AsyncIterator[GitHubSimulator]:
    async with GitHubSimulator(tmp_path / "github") as simulator:
        yield simulator


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[RunStore]:
    async with opened_store(f"sqlite:///{tmp_path / 'patchbot.db'}") as store:
        yield store


def app_settings(github: GitHubSimulator, private_key: str | None = None) -> Settings:
    return Settings.from_env(
        {
            "APP_ID": str(github.app_id),
            "PRIVATE_KEY": private_key or github.private_key_pem,
            "GITHUB_API_URL": github.api_url,
            "WEBHOOK_SECRET": SECRET,
        }
    )


async def readyz(aiohttp_client: Any, store: RunStore, readiness: Readiness) -> Any:
    """A client of the web app whose /readyz runs `readiness`."""

    async def no_github(installation_id: int) -> Any:
        raise AssertionError("no delivery is handled here")

    settings = Settings.from_env({"WEBHOOK_SECRET": SECRET})
    dispatcher = Dispatcher(store, settings, no_github, build_router())
    app = create_app(webhook_secret=SECRET, store=store, dispatcher=dispatcher, readiness=readiness)
    return await aiohttp_client(app)


def app_requests(github: GitHubSimulator) -> int:
    return sum(1 for r in github.requests if r.method == "GET" and r.path.endswith("/app"))


async def test_ready_when_every_check_passes_each_named_with_its_reason(
    aiohttp_client: Any, sqlite_store: RunStore, github: GitHubSimulator
) -> None:
    local_model = ModelConfig(model="openai/scripted", api_base="http://127.0.0.1:9/v1")
    async with github_app(app_settings(github)) as app:
        checks = {
            "store": store_check(sqlite_store),
            "github": github_check(app),
            "model": model_check(local_model),
        }
        client = await readyz(aiohttp_client, sqlite_store, Readiness(checks, timeout=30))
        answer = await client.get("/readyz")
        report = await answer.json()
    assert answer.status == 200, report
    assert report["status"] == "ready"
    accepted = f"GitHub accepted the App's credentials (patchbot, id {github.app_id})"
    assert report["checks"] == {
        "store": {"status": "ok", "reason": "the database answered a query"},
        "github": {"status": "ok", "reason": accepted},
        "model": {"status": "ok", "reason": "model openai/scripted at an OpenAI-compatible server"},
    }
    health = await client.get("/healthz")
    assert health.status == 200  # liveness stays the cheap answer it was


async def test_a_rejected_app_key_makes_it_503_with_a_one_line_reason(
    aiohttp_client: Any, sqlite_store: RunStore, github: GitHubSimulator
) -> None:
    async with github_app(app_settings(github, generate_private_key())) as app:
        checks = {"store": store_check(sqlite_store), "github": github_check(app)}
        client = await readyz(aiohttp_client, sqlite_store, Readiness(checks))
        answer = await client.get("/readyz")
        report = await answer.json()
    assert answer.status == 503 and report["status"] == "not ready"
    assert report["checks"]["store"]["status"] == "ok"
    github_result = report["checks"]["github"]
    assert github_result["status"] == "error"
    assert "401" in github_result["reason"] and "\n" not in github_result["reason"]


async def test_a_hanging_check_fails_at_its_timeout_while_the_others_answer(
    sqlite_store: RunStore, github: GitHubSimulator
) -> None:
    github.faults.slow("/app", 2)
    async with github_app(app_settings(github)) as app:
        checks = {"store": store_check(sqlite_store), "github": github_check(app)}
        report = await Readiness(checks, timeout=0.3).report()
    assert report["checks"]["github"] == {"status": "error", "reason": "no answer within 0.3 s"}
    assert report["checks"]["store"]["status"] == "ok"


async def test_callers_at_once_share_one_round_of_checks_and_answers_are_cached(
    sqlite_store: RunStore, github: GitHubSimulator
) -> None:
    async with github_app(app_settings(github)) as app:
        readiness = Readiness({"github": github_check(app)}, cache_seconds=0.5)
        reports = await asyncio.gather(*(readiness.report() for _ in range(5)))
        assert all(report["status"] == "ready" for report in reports)
        await readiness.report()
        assert app_requests(github) == 1
        await asyncio.sleep(0.6)
        await readiness.report()
        assert app_requests(github) == 2


async def test_a_failing_check_s_reason_never_shows_a_secret(sqlite_store: RunStore) -> None:
    async def leaky() -> str:
        raise RuntimeError(f"connect to postgresql://patchbot:{SECRET}@db\nfailed")

    failing: dict[str, Check] = {"database": leaky}
    report = await Readiness(failing, secrets=[SECRET]).report()
    reason = report["checks"]["database"]["reason"]
    assert SECRET not in reason and "[REDACTED]" in reason and "\n" not in reason
    await sqlite_store.close()
    closed = await Readiness({"store": store_check(sqlite_store)}).report()
    assert closed["checks"]["store"]["status"] == "error"


async def test_a_model_without_a_key_or_provider_is_not_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    checks = {
        "keyless": model_check(ModelConfig(model="anthropic/claude-sonnet-4-5")),
        "unknown": model_check(ModelConfig(model="gpt5")),
    }
    report = await Readiness(checks, timeout=60).report()
    assert report["status"] == "not ready"
    assert "ANTHROPIC_API_KEY" in report["checks"]["keyless"]["reason"]
    assert "knows no provider for model 'gpt5'" in report["checks"]["unknown"]["reason"]


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
async def test_images_must_be_built_from_their_folder_as_it_is(
    built_image: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images, name = built_image
    shutil.copytree(images / name, images / "never-built")
    checks = {
        "docker": docker_check(),
        "current": images_check([name], images),
        "unbuilt": images_check(["never-built"], images),
        "no_folder": images_check(["ruby"], images),
    }
    first = (await Readiness(checks, timeout=30).report())["checks"]
    assert first["docker"] == {"status": "ok", "reason": "the Docker Engine answered"}
    current = f"{name} built from {images} as it is now"
    assert first["current"] == {"status": "ok", "reason": current}
    assert "run `patchbot images build never-built`" in first["unbuilt"]["reason"]
    assert "'ruby' has no folder" in first["no_folder"]["reason"]

    recipe = images / name / "Dockerfile"
    recipe.write_text(recipe.read_text() + "# a change\n")
    stale = await Readiness({"images": images_check([name], images)}, timeout=30).report()
    assert stale["checks"]["images"]["status"] == "error"
    assert "was built from an older" in stale["checks"]["images"]["reason"]
    assert f"run `patchbot images build {name}`" in stale["checks"]["images"]["reason"]
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    down = await Readiness({"docker": docker_check()}, timeout=30).report()
    assert down["checks"]["docker"]["status"] == "error"
