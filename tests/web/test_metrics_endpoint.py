"""`GET /metrics` on the webhook server, read with Prometheus' own parser: the store's runs by
state, the queue and failed deliveries as they change, the runs the embedded workers did."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.runs.models import PullOpened, PullOutcome, RunState
from bot.runs.worker import Worker
from bot.settings import Settings
from bot.telemetry.metrics import CONTENT_TYPE
from bot.testing.pipelines import ClaimOnlyPipeline, FailingPipeline
from tests.simulated import COMMENTS, labeled


async def _scraped(intake: Any) -> str:
    response = await intake.client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE
    text: str = await response.text()
    return text


async def _queued(intake: Any) -> None:
    """Alice labels the issue: a run is queued."""
    intake.allow("alice", "write")
    intake.gh.reply("POST", COMMENTS, status=201)
    await intake.post("issues", await labeled(intake.github))
    await intake.settle()


async def test_an_empty_store_reports_every_state_at_zero(intake: Any, scrape: Any) -> None:
    text = await _scraped(intake)
    for state in RunState:
        assert scrape.value("patchbot_runs", text, state=state.value) == 0
    assert scrape.value("patchbot_queue_depth", text) == 0
    assert scrape.value("patchbot_queue_oldest_age_seconds", text) == 0
    assert scrape.value("patchbot_deliveries_failed", text) == 0
    for outcome in ("open", "merged", "closed", "reverted"):
        assert scrape.value("patchbot_pull_outcomes", text, state=outcome) == 0


async def test_a_queued_run_then_its_work_show_in_the_metrics(
    intake: Any, scrape: Any, settings: Settings
) -> None:
    await _queued(intake)
    await asyncio.sleep(0.05)  # the run has waited a little, which its age shows
    text = await _scraped(intake)
    assert scrape.value("patchbot_queue_depth", text) == 1
    assert scrape.value("patchbot_runs", text, state="queued") == 1
    age = scrape.value("patchbot_queue_oldest_age_seconds", text)
    assert age is not None and 0.05 <= age < 60

    await Worker(intake.store, ClaimOnlyPipeline(), settings).run_one()
    text = await _scraped(intake)
    assert scrape.value("patchbot_queue_depth", text) == 0
    assert scrape.value("patchbot_queue_oldest_age_seconds", text) == 0
    assert scrape.value("patchbot_runs", text, state="queued") == 0
    assert scrape.value("patchbot_runs", text, state="succeeded") == 1
    assert scrape.value("patchbot_run_duration_seconds_count", text, state="succeeded") == 1
    # ClaimOnlyPipeline's one step, `claimed`, then the worker's finish
    assert scrape.value("patchbot_step_duration_seconds_count", text, step="claimed") == 1
    assert scrape.value("patchbot_step_duration_seconds_count", text, step="finish") == 1
    assert "Hello is misspelt" not in text  # the issue's title: no untrusted text in labels
    assert "alice" not in text


async def test_a_failed_run_and_a_failed_delivery_are_counted(
    intake: Any, scrape: Any, settings: Settings
) -> None:
    intake.allow("alice", "write")
    intake.gh.reply("POST", COMMENTS, status=201)
    await intake.post("issues", await labeled(intake.github), delivery_id="d-ok")
    await intake.settle()
    await Worker(intake.store, FailingPipeline(), settings).run_one()
    await intake.store.mark_delivery_processed("d-ok", error="RuntimeError: it broke")
    text = await _scraped(intake)
    assert scrape.value("patchbot_runs", text, state="failed") == 1
    assert scrape.value("patchbot_run_duration_seconds_count", text, state="failed") == 1
    assert scrape.value("patchbot_deliveries_failed", text) == 1
    await intake.store.mark_delivery_processed("d-ok")  # redelivered, handled this time
    assert scrape.value("patchbot_deliveries_failed", await _scraped(intake)) == 0


async def test_pull_requests_are_counted_by_outcome_and_the_worker_keeps_run_facts(
    intake: Any, scrape: Any, settings: Settings
) -> None:
    await _queued(intake)
    run = await Worker(intake.store, ClaimOnlyPipeline(), settings).run_one()
    assert run is not None
    (_, kept), *_ = await intake.store.runs_with_facts_since(0)
    assert kept is not None  # kept when the run ended
    opened = PullOpened(number=7, branch="patchbot/x", head_sha="a" * 40, files=["x.py"])
    await intake.store.record_pull_request(run.id, "https://github.example/pull/7", opened)
    text = await _scraped(intake)
    assert scrape.value("patchbot_pull_outcomes", text, state="open") == 1
    merged = PullOutcome(
        repository=run.repository, pull_request=7, issue=run.issue, state="merged", closed_at=2.0
    )
    await intake.store.record_closed(merged)
    text = await _scraped(intake)
    assert scrape.value("patchbot_pull_outcomes", text, state="open") == 0
    assert scrape.value("patchbot_pull_outcomes", text, state="merged") == 1
    assert run.repository not in text  # no repository name in a label
