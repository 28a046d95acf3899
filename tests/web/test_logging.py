"""Log lines: text or one JSON object a line, saying which delivery, run, repository and issue
they are about; secrets redacted; a traceback only at DEBUG."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gidgethub import sansio

from bot.handlers import build_router
from bot.handlers.dispatcher import Dispatcher
from bot.logs import configure_logging, log_context
from bot.runs.models import NewRun
from bot.runs.store import RunStore
from bot.runs.worker import Worker
from bot.settings import Settings
from bot.testing.pipelines import FailingPipeline
from bot.testing.simulator.keys import generate_private_key

WEBHOOK_SECRET = "whsec-0123456789abcdef"
TOKEN = "ghs_" + "A1b2C3d4" * 5
MODEL_KEY = "mk-9f8e7d6c5b4a"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """Where `configure_logging` writes in the test; the root logger is restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(stream)]


def test_json_lines_carry_time_level_logger_message_and_context(output: io.StringIO) -> None:
    configure_logging("INFO", "json", stream=output)
    log = logging.getLogger("bot.test")
    with log_context(delivery_id="d-1", repo="octo/demo", issue=7):
        log.info("handling %s", "labeled")
        with log_context(run_id=3):
            log.warning("nested")
    log.info("about a run", extra={"run_id": 9})
    log.debug("below the level")
    first, nested, outside = records(output)
    assert first["message"] == "handling labeled"
    assert (first["level"], first["logger"]) == ("INFO", "bot.test")
    assert first["time"].endswith("Z") and "T" in first["time"]
    assert (first["delivery_id"], first["repo"], first["issue"]) == ("d-1", "octo/demo", 7)
    assert "run_id" not in first
    assert nested["run_id"] == 3 and nested["delivery_id"] == "d-1"
    assert outside["run_id"] == 9 and "delivery_id" not in outside and "repo" not in outside


def test_an_error_is_one_line_with_its_reason_and_the_traceback_only_at_debug(
    output: io.StringIO,
) -> None:
    log = logging.getLogger("bot.test")

    def fail() -> None:
        try:
            raise ValueError("the payload names no issue\nsecond line")
        except ValueError:
            log.exception("delivery d-2 failed in its handlers")

    configure_logging("INFO", "text", stream=output)
    fail()
    [line] = lines(output)
    assert line.endswith(
        "bot.test: delivery d-2 failed in its handlers (ValueError: the payload names no issue)"
    )
    as_json, at_debug = io.StringIO(), io.StringIO()
    configure_logging("INFO", "json", stream=as_json)
    fail()
    assert records(as_json)[0]["error"] == "ValueError: the payload names no issue"
    configure_logging("DEBUG", "json", stream=at_debug)
    fail()
    [record] = records(at_debug)
    assert "Traceback (most recent call last)" in record["error"]


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secrets_never_reach_a_log_line(output: io.StringIO, log_format: str) -> None:
    pem = generate_private_key()
    settings = Settings.from_env(
        {"WEBHOOK_SECRET": WEBHOOK_SECRET, "PRIVATE_KEY": pem, "PATCHBOT_MODEL_API_KEY": MODEL_KEY}
    )
    configure_logging("DEBUG", log_format, settings.secrets(), stream=output)
    log = logging.getLogger("bot.test")
    log.info("secret %s, key %s, token %s", WEBHOOK_SECRET, pem, TOKEN)
    with log_context(repo=f"octo/{TOKEN}"):
        try:
            raise RuntimeError(f"model refused key {MODEL_KEY} for {WEBHOOK_SECRET}")
        except RuntimeError:
            log.exception("call failed")
    written = output.getvalue()
    for secret in (WEBHOOK_SECRET, TOKEN, MODEL_KEY, pem.splitlines()[1]):
        assert secret not in written
    assert written.count("[REDACTED]") >= 6


async def test_a_failing_delivery_logs_one_line_with_its_reason_and_what_it_is_about(
    output: io.StringIO, store: RunStore, settings: Settings
) -> None:
    async def github_down(installation_id: int) -> Any:
        raise ConnectionRefusedError("GitHub is unreachable")

    configure_logging("INFO", "json", stream=output)
    dispatcher = Dispatcher(store, settings, github_down, build_router())
    payload = {
        "action": "labeled",
        "issue": {"number": 12},
        "repository": {"full_name": "octo/demo"},
        "installation": {"id": 5},
    }
    await dispatcher.process("delivery-1", sansio.Event(payload, event="issues", delivery_id="x"))
    [line] = [r for r in records(output) if r["level"] == "ERROR"]
    assert line["message"] == "delivery delivery-1 failed in its handlers"
    assert line["error"] == "ConnectionRefusedError: GitHub is unreachable"
    assert (line["delivery_id"], line["repo"], line["issue"]) == ("delivery-1", "octo/demo", 12)


async def test_a_worker_s_lines_name_the_run_repository_and_issue(
    output: io.StringIO, store: RunStore, settings: Settings, tmp_path: Path
) -> None:
    configure_logging("INFO", "json", stream=output)
    run, _ = await store.create_run(
        NewRun(repository="octo/demo", issue=4, requester="alice", trigger="cli")
    )
    await Worker(store, FailingPipeline(), settings, name="w1").run_one()
    claimed = next(r for r in records(output) if "claimed run" in r["message"])
    assert (claimed["run_id"], claimed["repo"], claimed["issue"]) == (run.id, "octo/demo", 4)
