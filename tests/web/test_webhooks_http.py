"""The webhook entry over real HTTP: status codes, persistence before the answer, dedupe."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import pytest
from gidgethub import sansio

from bot.handlers import build_router
from bot.handlers.dispatcher import Dispatcher
from bot.runs.models import Delivery, RunState
from bot.runs.store import RunStore
from bot.settings import Settings
from bot.testing.recording_gh import RecordingGitHubAPI
from bot.testing.simulator import GitHubSimulator
from bot.testing.webhooks import build_delivery, sign
from bot.web.app import create_app
from tests.simulated import COMMENTS, INSTALLATION, ISSUE, REPO_NAME, labeled

SECRET = "test-webhook-secret-1234"
"""The secret the `settings` fixture configures."""


def _github(settings: Settings, login: str, role: str) -> RecordingGitHubAPI:
    """A GitHub double: `login` has `role` on the repository, comments are taken."""
    gh = RecordingGitHubAPI(base_url=settings.github_api_url)
    gh.allow(REPO_NAME, login, role)
    gh.reply("POST", COMMENTS, status=201)
    return gh


def _dispatcher(store: RunStore, settings: Settings, gh: RecordingGitHubAPI) -> Dispatcher:
    """A dispatcher that talks to `gh` for every installation."""

    async def github(installation_id: int) -> RecordingGitHubAPI:
        return gh

    return Dispatcher(store, settings, github, build_router())


async def _stored_unhandled(
    store: RunStore, delivery_id: str, payload: dict[str, Any], received_at: float
) -> bytes:
    """Record a labeled delivery as the webhook entry would, not handled yet; its body."""
    delivery = build_delivery("issues", payload, secret=SECRET, delivery_id=delivery_id)
    await store.record_delivery(
        Delivery(
            delivery_id=delivery_id,
            event="issues",
            action="labeled",
            installation_id=INSTALLATION,
            payload=delivery.body.decode(),
            received_at=received_at,
        )
    )
    return delivery.body


async def test_forged_signature_is_refused_with_401(intake: Any) -> None:
    intake.github.send_webhooks_to(str(intake.client.make_url("/webhooks")), "not-the-secret")
    delivery = await intake.github.label_issue(REPO_NAME, ISSUE, "patchbot", by="alice")
    assert delivery.status == 401
    assert await intake.store.unprocessed_deliveries() == []


async def test_missing_signature_is_refused_with_401(intake: Any) -> None:
    response = await intake.post("issues", await labeled(intake.github), secret=None)
    assert response.status == 401


@pytest.mark.parametrize(
    "header",
    ["X-Hub-Signature", "X-Hub-Signature-256"],
    ids=["the SHA-1 header alone", "sha1= in the SHA-256 header"],
)
async def test_an_hmac_sha1_signature_is_refused_with_401(intake: Any, header: str) -> None:
    """GitHub also signs with HMAC-SHA1; with the right secret, that is still not enough."""
    delivery = build_delivery("issues", await labeled(intake.github), secret=None)
    sha1 = hmac.new(SECRET.encode(), delivery.body, hashlib.sha1).hexdigest()
    headers = {**delivery.headers, header: f"sha1={sha1}"}
    response = await intake.client.post("/webhooks", data=delivery.body, headers=headers)
    assert response.status == 401
    assert await intake.store.known_deliveries([delivery.delivery_id]) == set()


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"{not json", "application/json", "the body is not valid JSON"),
        (b'["a", "list"]', "application/json", "the body is not a JSON object"),
        (
            b"payload=%7B%7D",
            "application/x-www-form-urlencoded",
            "the body must be application/json",
        ),
    ],
    ids=["not JSON", "not an object", "form-encoded"],
)
async def test_malformed_body_is_rejected_with_400_saying_why(
    intake: Any, body: bytes, content_type: str, reason: str
) -> None:
    delivery = build_delivery("issues", {}, secret=SECRET)
    headers = {
        **delivery.headers,
        "Content-Type": content_type,
        "X-Hub-Signature-256": sign(body, SECRET),
    }
    response = await intake.client.post("/webhooks", data=body, headers=headers)
    assert response.status == 400
    assert (await response.json())["error"].startswith(f"not a GitHub webhook delivery: {reason}")
    assert await intake.store.known_deliveries([delivery.delivery_id]) == set()


async def test_missing_event_header_is_rejected_with_400(intake: Any) -> None:
    delivery = build_delivery("issues", await labeled(intake.github), secret=SECRET)
    headers = {k: v for k, v in delivery.headers.items() if k != "X-GitHub-Event"}
    response = await intake.client.post("/webhooks", data=delivery.body, headers=headers)
    assert response.status == 400


async def test_unhandled_event_is_accepted_with_202_and_logged(
    intake: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.web.app")
    push = {"ref": "refs/heads/main", "installation": {"id": INSTALLATION}}  # not subscribed
    response = await intake.post("push", push, delivery_id="push-1")
    assert response.status == 202
    assert any(getattr(r, "delivery_id", None) == "push-1" for r in caplog.records)
    opened = await intake.github.deliver("issues", "opened", REPO_NAME, sender="alice", issue=ISSUE)
    assert opened.status == 202
    unhandled = ["push-1", opened.delivery_id]
    assert await intake.store.known_deliveries(unhandled) == set()


async def test_delivery_is_persisted_before_the_answer(intake: Any) -> None:
    intake.allow("alice", "write")
    response = await intake.post("issues", await labeled(intake.github), delivery_id="d-1")
    assert response.status == 200
    stored = await intake.store.get_delivery("d-1")
    assert stored is not None
    assert (stored.event, stored.action, stored.installation_id) == (
        "issues",
        "labeled",
        INSTALLATION,
    )
    await intake.settle()


async def test_duplicate_delivery_makes_one_run(intake: Any) -> None:
    intake.allow("alice", "write")
    intake.gh.reply("POST", COMMENTS, status=201)
    payload = await labeled(intake.github)
    first = await intake.post("issues", payload, delivery_id="same")
    await intake.settle()
    again = await intake.post("issues", payload, delivery_id="same")
    await intake.settle()
    assert (first.status, again.status) == (200, 200)
    assert (await again.json())["status"] == "duplicate"
    runs = await intake.store.list_runs()
    assert len(runs) == 1 and runs[0].state is RunState.QUEUED
    posted = intake.gh.calls_to("POST", COMMENTS)
    assert len(posted) == 1 and f"run #{runs[0].id}" in posted[0].body["body"]


async def test_answer_does_not_wait_for_github(
    aiohttp_client: Any, store: RunStore, settings: Settings, github: GitHubSimulator
) -> None:
    github_may_answer = asyncio.Event()
    gh = _github(settings, "alice", "write")

    async def slow_github(installation_id: int) -> RecordingGitHubAPI:
        await github_may_answer.wait()
        return gh

    dispatcher = Dispatcher(store, settings, slow_github, build_router())
    client = await aiohttp_client(
        create_app(webhook_secret=SECRET, store=store, dispatcher=dispatcher)
    )
    delivery = build_delivery("issues", await labeled(github), secret=SECRET)
    response = await asyncio.wait_for(
        client.post("/webhooks", data=delivery.body, headers=delivery.headers), timeout=5
    )
    assert response.status == 200
    assert await store.list_runs() == []  # acknowledged; the work has not happened yet
    github_may_answer.set()
    await dispatcher.drain()
    assert len(await store.list_runs()) == 1


async def test_unprocessed_deliveries_are_handled_at_start_up(
    aiohttp_client: Any, store: RunStore, settings: Settings, github: GitHubSimulator
) -> None:
    """A delivery acknowledged just before a crash is handled when the app starts again."""
    payload = await labeled(github)
    await _stored_unhandled(store, "before-crash", payload, received_at=time.time())
    dispatcher = _dispatcher(store, settings, _github(settings, "alice", "write"))
    await aiohttp_client(create_app(webhook_secret=SECRET, store=store, dispatcher=dispatcher))
    for _ in range(200):
        if not await store.unprocessed_deliveries():
            break
        await asyncio.sleep(0.02)
    runs = await store.list_runs()
    assert [run.delivery_id for run in runs] == ["before-crash"]


async def test_handler_failure_is_recorded_on_its_delivery(intake: Any) -> None:
    # No permission answer scripted: the handler's GitHub call fails.
    response = await intake.post("issues", await labeled(intake.github), delivery_id="fails")
    assert response.status == 200
    await intake.settle()
    stored = await intake.store.get_delivery("fails")
    assert stored is not None and stored.processed_at is not None
    assert stored.error is not None and "UnscriptedRequest" in stored.error
    assert await intake.store.list_runs() == []


async def test_healthz_reports_the_store(intake: Any) -> None:
    response = await intake.client.get("/healthz")
    assert response.status == 200
    report = await response.json()
    assert report["store"] == "ok" and report["workers"] == []


async def test_redelivery_of_a_failed_delivery_is_handled_again(intake: Any) -> None:
    payload = await labeled(intake.github)
    first = await intake.post("issues", payload, delivery_id="flaky")
    assert first.status == 200
    await intake.settle()  # fails: GitHub's permission answer is not scripted yet
    intake.allow("alice", "write")
    intake.gh.reply("POST", COMMENTS, status=201)
    again = await intake.post("issues", payload, delivery_id="flaky")
    assert again.status == 200 and (await again.json())["status"] == "accepted"
    await intake.settle()
    stored = await intake.store.get_delivery("flaky")
    assert stored is not None and stored.error is None
    assert len(await intake.store.list_runs()) == 1
    third = await intake.post("issues", payload, delivery_id="flaky")
    assert (await third.json())["status"] == "duplicate"


async def test_delivery_queued_while_recovering_is_handled_once(
    store: RunStore, settings: Settings, github: GitHubSimulator
) -> None:
    gh = _github(settings, "mallory", "read")
    dispatcher = _dispatcher(store, settings, gh)
    refused = await labeled(github, by="mallory")
    body = await _stored_unhandled(store, "raced", refused, received_at=time.time() - 1)
    payload = json.loads(body)
    dispatcher.submit("raced", sansio.Event(payload, event="issues", delivery_id="raced"))
    running = asyncio.create_task(dispatcher.run())
    await dispatcher.drain()
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert len(gh.calls_to("POST", COMMENTS)) == 1


async def test_a_stored_delivery_that_is_not_json_is_recorded_as_failed(
    store: RunStore, settings: Settings
) -> None:
    await store.record_delivery(
        Delivery(
            delivery_id="cut-short",
            event="issues",
            action="labeled",
            installation_id=INSTALLATION,
            payload='{"action": "lab',
            received_at=time.time(),
        )
    )
    dispatcher = _dispatcher(store, settings, _github(settings, "alice", "write"))
    assert await dispatcher.recover() == 1
    stored = await store.get_delivery("cut-short")
    assert stored is not None and stored.processed_at is not None
    assert stored.error is not None and stored.error.startswith("bad JSON: ")
    assert await store.list_runs() == []


async def test_recovery_handles_deliveries_side_by_side(
    store: RunStore, settings: Settings, github: GitHubSimulator
) -> None:
    """Each delivery waits for its processed-mark; a backlog handled one after the other would
    go at the pace of those commits."""
    payload = await labeled(github)
    for delivery_id in ("left-1", "left-2"):
        await _stored_unhandled(store, delivery_id, payload, received_at=time.time())
    gh, calls, both = _github(settings, "alice", "write"), [], asyncio.Event()

    async def github_once_both_ask(installation_id: int) -> RecordingGitHubAPI:
        calls.append(installation_id)
        if len(calls) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), timeout=2)  # alone: TimeoutError, recorded
        return gh

    dispatcher = Dispatcher(store, settings, github_once_both_ask, build_router())
    assert await dispatcher.recover() == 2
    for delivery_id in ("left-1", "left-2"):
        stored = await store.get_delivery(delivery_id)
        assert stored is not None and stored.processed_at is not None and stored.error is None
