"""A scheduled evaluation in a running server (two workers, the GitHub simulator, real
sandboxes, the oracle): a due schedule gives exactly one evaluation, its result is kept and
the next is queued a period later; a later evaluation that resolves less raises the alert in
the log and as one comment on the repository's issue."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from bot.eval.drift import ALERT_MARKER
from bot.eval.scheduled import schedule_eval
from bot.eval.tasks import read_jsonl
from bot.pipeline.server import ServerPipeline
from bot.policy.load import default_policy_path, load_policy_file
from bot.policy.model import EVAL_PERIODS
from bot.runs.evals import EVAL_ISSUE
from bot.runs.models import RunState
from bot.testing.stack import MAINTAINER, LocalStack
from tests.e2e.conftest import eventually

pytestmark = [pytest.mark.docker, pytest.mark.slow]
Mined = tuple[Path, dict[str, str], Path, list[str]]
REPOSITORY = "octo/calc"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.invalid", *args],
        cwd=repo, check=True, capture_output=True,
    )  # fmt: skip


def publish(clone: Path, bare: Path, tasks: list[dict[str, object]], issue: int) -> None:
    """Commit the mined tasks and the repository's policy on the clone, and push it all."""
    (clone / ".github").mkdir(exist_ok=True)
    (clone / ".github" / "patchbot-eval.jsonl").write_text(
        "".join(json.dumps(task) + "\n" for task in tasks)
    )
    policy = {"eval": {"issue": issue, "max_tasks": 1}}
    (clone / ".github" / "patchbot.yml").write_text(yaml.safe_dump(policy))
    _git(clone, "add", "-A")
    _git(clone, "commit", "-q", "-m", "The mined tasks")
    _git(clone, "push", "-q", "--force", str(bare), "HEAD:main")


async def evaluated(stack: LocalStack, count: int) -> None:
    async def kept() -> bool:
        return len(await stack.store.eval_history(REPOSITORY, 10)) >= count

    await eventually(kept, f"evaluation {count} kept", timeout=600, interval=0.5)


async def test_a_due_schedule_evaluates_once_and_a_drop_raises_the_alert(
    mined: Mined, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo, _, tasks_file, _ = mined
    clone = tmp_path / "calc"
    shutil.copytree(repo, clone)
    tasks = list(read_jsonl(tasks_file))
    server_policy = load_policy_file(default_policy_path())
    caplog.set_level(logging.WARNING, logger="bot.eval.scheduled")
    stack = LocalStack(
        tmp_path / "stack",
        [],
        workers=2,
        pipeline=ServerPipeline(),
        environment={"PATCHBOT_MODEL": "oracle", "PATCHBOT_LEASE_SECONDS": "20"},
    )
    async with stack:
        bare = stack.github.add_repo(REPOSITORY, files={"README.md": "calc\n"}).path
        installation = stack.github.add_installation("octo", [REPOSITORY])
        issue = stack.github.add_issue(REPOSITORY, "Evaluation alerts", author=MAINTAINER).number
        publish(clone, bare, tasks, issue)

        due = time.time()
        first = await schedule_eval(
            stack.store, REPOSITORY, installation.id, server_policy, due=due
        )
        await evaluated(stack, 1)
        [kept] = await stack.store.eval_history(REPOSITORY, 10)
        assert (kept.run_id, kept.model, kept.runs, kept.resolved, kept.accepted) == (
            first.id, "oracle", 1, 1, 1,
        )  # fmt: skip
        assert kept.alert is None and json.loads(kept.results)["rows"][0]["resolved"]

        async def next_queued() -> object:
            run = await stack.store.active_run(REPOSITORY, EVAL_ISSUE)
            return run if run is not None and run.id != first.id else None

        following = await eventually(next_queued, "the next evaluation queued", timeout=30)
        done = await stack.store.get_run(first.id)
        assert done is not None and done.state is RunState.SUCCEEDED
        assert done.attempts == 1  # two workers, one claim
        assert following.state is RunState.QUEUED and following.not_before is not None
        assert following.not_before >= due + EVAL_PERIODS["weekly"]
        evals = [run for run in await stack.store.list_runs() if run.trigger == "eval"]
        assert [run.id for run in evals] == [following.id, first.id]
        assert stack.github.repo(REPOSITORY).comments_on(issue) == []

        # The mined set now asks for a test no fix makes pass: the oracle's pull request
        # would be accepted and not resolve its task (the number a maintainer fears).
        wrong = dict(tasks[0], FAIL_TO_PASS=[*tasks[0]["FAIL_TO_PASS"], "tests/test_gone.py::x"])
        publish(clone, bare, [wrong], issue)
        await stack.store.cancel_run(following.id)  # a stop ends the schedule ...
        second = await schedule_eval(  # ... and the operator starts it again, due now
            stack.store, REPOSITORY, installation.id, server_policy, due=time.time()
        )
        await evaluated(stack, 2)
        latest, previous = await stack.store.eval_history(REPOSITORY, 10)
        assert (latest.run_id, previous.run_id) == (second.id, first.id)
        assert (latest.resolved, latest.accepted_unresolved) == (0, 1)
        assert latest.alert is not None and "fell from 100% to 0%" in latest.alert
        assert [r.run_id for r in await stack.store.latest_evals()] == [second.id]

        [comment] = stack.github.repo(REPOSITORY).comments_on(issue)
        assert comment.body.startswith(ALERT_MARKER.format(run_id=second.id))
        assert "rose from 0 to 1" in comment.body
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert any(f"evaluation of {REPOSITORY} dropped" in r.getMessage() for r in warnings)
