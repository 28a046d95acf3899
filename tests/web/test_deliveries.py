"""Failed deliveries are visible (`patchbot deliveries list --failed`) and an operator can
replay one (`patchbot deliveries replay ID`) through the same handlers, once it can succeed;
a second replay changes nothing."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from bot.handlers import build_router
from bot.handlers.dispatcher import Dispatcher
from bot.runs.models import Delivery
from bot.runs.store import RunStore, opened_store
from bot.settings import Settings
from bot.testing.loopback import served
from bot.testing.processes import run_patchbot
from bot.testing.simulator import GitHubSimulator
from bot.web.app import create_app

REPO = Path(__file__).resolve().parents[2]
SECRET = "deliveries-webhook-secret"


def environment(github: GitHubSimulator, database_url: str) -> dict[str, str]:
    """A deployment's variables, pointed at the simulator and the test's database."""
    own = {k: v for k, v in os.environ.items() if not k.startswith(("PATCHBOT_", "APP_"))}
    return {
        **own,
        "DATABASE_URL": database_url,
        "APP_ID": str(github.app_id),
        "PRIVATE_KEY": github.private_key_pem,
        "GITHUB_API_URL": github.api_url,
        "WEBHOOK_SECRET": SECRET,
        "PYTHONPATH": str(REPO),
    }


def delivery(delivery_id: str, received_at: float) -> Delivery:
    return Delivery(
        delivery_id=delivery_id,
        event="issues",
        action="labeled",
        installation_id=1,
        payload="{}",
        received_at=received_at,
    )


async def test_deliveries_are_listed_newest_first_and_failed_ones_alone(store: RunStore) -> None:
    now = time.time()
    for number in range(4):
        await store.record_delivery(delivery(f"d{number}", now + number))
    await store.mark_delivery_processed("d0", "RuntimeError: GitHub is down")
    await store.mark_delivery_processed("d1")
    await store.mark_delivery_processed("d2", "KeyError: 'issue'")
    listed = await store.list_deliveries()
    assert [d.delivery_id for d in listed] == ["d3", "d2", "d1", "d0"]
    failed = await store.list_deliveries(failed=True)
    assert [(d.delivery_id, d.error) for d in failed] == [
        ("d2", "KeyError: 'issue'"),
        ("d0", "RuntimeError: GitHub is down"),
    ]
    assert [d.delivery_id for d in await store.list_deliveries(limit=1)] == ["d3"]


async def test_a_failed_delivery_is_listed_and_replayed_into_one_run(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'patchbot.db'}"
    async with GitHubSimulator(tmp_path / "github") as github:
        github.add_repo("octo/demo", files={"README.md": "demo\n"})
        github.add_installation("octo", ["octo/demo"])
        github.add_collaborator("octo/demo", "alice", "write")
        issue = github.add_issue("octo/demo", "Typo in README", author="alice")
        env = environment(github, database_url)

        async def github_down(installation_id: int) -> Any:
            raise ConnectionRefusedError("GitHub is unreachable")

        async with opened_store(database_url) as store:
            dispatcher = Dispatcher(store, Settings.from_env(env), github_down, build_router())
            app = create_app(webhook_secret=SECRET, store=store, dispatcher=dispatcher)
            async with served(app) as url:
                github.send_webhooks_to(f"{url}/webhooks", SECRET)
                sent = await github.label_issue("octo/demo", issue.number, "patchbot", by="alice")
                await dispatcher.drain()
        assert sent.status == 200, sent.response

        listed = await run_patchbot("deliveries", "list", "--failed", env=env)
        assert listed.returncode == 0, listed.stderr
        [row] = [line for line in listed.stdout.splitlines() if sent.delivery_id in line]
        assert "issues.labeled" in row and "failed" in row
        assert "ConnectionRefusedError: GitHub is unreachable" in row

        replayed = await run_patchbot("deliveries", "replay", sent.delivery_id, env=env)
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr
        assert f"delivery {sent.delivery_id} handled" in replayed.stdout
        again = await run_patchbot("deliveries", "replay", sent.delivery_id, env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "nothing to replay" in again.stdout
        unknown = await run_patchbot("deliveries", "replay", "no-such-id", env=env)
        assert unknown.returncode == 2 and "no delivery no-such-id" in unknown.stderr
        assert "Traceback" not in unknown.stderr

    async with opened_store(database_url) as store:
        runs = await store.list_runs()
        stored = await store.get_delivery(sent.delivery_id)
        assert await store.list_deliveries(failed=True) == []
    assert [(r.repository, r.issue, r.requester, r.trigger) for r in runs] == [
        ("octo/demo", issue.number, "alice", "label")
    ]
    assert stored is not None and stored.error is None and stored.processed_at is not None


async def test_a_delivery_that_fails_again_says_why_and_exits_1(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'patchbot.db'}"
    async with opened_store(database_url) as store:
        await store.record_delivery(delivery("broken", time.time()))
        await store.mark_delivery_processed("broken", "RuntimeError: GitHub is down")
    async with GitHubSimulator(tmp_path / "github") as github:  # knows no installation 1
        env = environment(github, database_url)
        done = await run_patchbot("deliveries", "replay", "broken", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "delivery broken failed again: " in done.stdout
    async with opened_store(database_url) as store:
        [failed] = await store.list_deliveries(failed=True)
    assert failed.error is not None and failed.error != "RuntimeError: GitHub is down"
