"""Drift between two evaluations (when a drop is an alert, the comment that raises it), the
evaluation's budget, and queueing a scheduled evaluation: no Docker."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.eval.drift import ALERT_MARKER, alert_comment, drift
from bot.eval.results import Row, RunInfo, summarize
from bot.eval.run import Evaluation, RunOptions
from bot.eval.scheduled import mined_tasks, schedule_eval
from bot.eval.tasks import Task
from bot.policy.model import EVAL_PERIODS, EvalPolicy, Policy
from bot.runs.evals import EvalRecord
from bot.runs.models import ActiveRunExists
from bot.runs.store import opened_store
from bot.testing.processes import run_patchbot
from bot.trace import Redactor

INFO = RunInfo(
    model="oracle",
    policy="default",
    tasks_file="tasks.jsonl",
    attempts=1,
    patchbot_version="0",
    started_at="2026-01-01T00:00:00+00:00",
)


def task(name: str) -> Task:
    return Task(
        instance_id=name,
        repo="calc",
        base_commit="0" * 40,
        patch="",
        test_patch="",
        problem_statement="mul is off by one",
        FAIL_TO_PASS=["tests/test_calc.py::test_mul"],
    )


def row(name: str, accepted: bool, resolved: bool, cost: float | None = None) -> Row:
    return Row(
        instance_id=name,
        attempt=1,
        accepted=accepted,
        resolved=resolved,
        stop_reason="verified" if accepted else "no_progress",
        detail="",
        grade_reason="",
        cost_usd=cost,
    )


def record(run_id: int, rows: list[Row]) -> EvalRecord:
    tasks = [task(r.instance_id) for r in rows]
    summary = summarize(INFO, tasks, rows)
    return EvalRecord(
        run_id=run_id,
        repository="octo/calc",
        finished_at=float(run_id),
        model="oracle",
        results=json.dumps(summary),
        **{
            key: summary[key]
            for key in (
                "tasks",
                "runs",
                "resolved",
                "accepted",
                "accepted_unresolved",
                "refused_resolved",
                "resolve_rate",
                "cost_usd",
            )
        },
    )


GOOD = [row(f"t{i}", True, True) for i in range(10)]


def test_the_first_evaluation_and_a_small_drop_are_no_alert() -> None:
    policy = EvalPolicy()
    assert drift(None, record(1, GOOD), policy) == []
    one_less = [*GOOD[:9], row("t9", False, False)]  # 100% -> 90%: a drop of 0.1, not more
    assert drift(record(1, GOOD), record(2, one_less), policy) == []


def test_a_drop_beyond_the_threshold_and_a_wrong_pull_request_are_alerts() -> None:
    policy = EvalPolicy()
    worse = [*GOOD[:8], row("t8", True, False), row("t9", False, False)]
    reasons = drift(record(1, GOOD), record(2, worse), policy)
    assert len(reasons) == 2
    assert "fell from 100% to 80%" in reasons[0]
    assert "rose from 0 to 1" in reasons[1]
    assert drift(record(1, GOOD), record(2, worse), EvalPolicy(max_resolve_drop=0.3)) == [
        reasons[1]
    ]
    lenient = EvalPolicy(max_resolve_drop=0.3, max_wrong_pr_rise=1)
    assert drift(record(1, GOOD), record(2, worse), lenient) == []


def test_the_alert_comment_says_why_and_shows_task_names_inert() -> None:
    hostile = "t0 @everyone [click](https://evil.example) ```"
    before = record(1, [row(hostile, True, True), *GOOD[1:]])
    after = record(2, [row(hostile, True, False), *GOOD[1:]])
    reasons = drift(before, after, EvalPolicy())
    body = alert_comment(before, after, reasons)
    assert body.startswith(ALERT_MARKER.format(run_id=2))
    assert "| previous (run 1) | 10 of 10 (100%) | 10 | 0 | unknown |" in body
    assert "| this one (run 2) | 9 of 10 (90%) | 10 | 1 | unknown |" in body
    assert "accepted, resolved -> accepted, not resolved" in body
    # the task's name is inside a code block no backtick run in it can close
    fence = body.split("what changed")[0].rstrip().splitlines()[-1]
    assert fence.startswith("````") and body.count(fence) == 2


class PricedEvaluation(Evaluation):
    """Runs that cost $0.40 each, without a sandbox: what the budget sees."""

    async def run_one(self, task: Task, attempt: int) -> Row:
        return row(task.instance_id, True, True, cost=0.4)


async def test_the_budget_stops_the_evaluation_once_spent(tmp_path: Path) -> None:
    lines: list[str] = []
    options = RunOptions(out=tmp_path, model="oracle", budget_usd=1.0, concurrency=1)
    evaluation = PricedEvaluation(
        options, [task(f"t{i}") for i in range(6)], Policy(), INFO,
        configured=None, redactor=Redactor(), opener=None,  # type: ignore[arg-type]
        say=lines.append,
    )  # fmt: skip
    rows = await evaluation.run()
    assert len(rows) == 3  # $0.80 after two is under the budget; $1.20 after three is not
    assert [line for line in lines if "budget" in line] == [
        "budget of $1.0000 spent: 3 run(s) not started"
    ]
    assert summarize(INFO, evaluation.tasks, rows)["pending"] == 3


async def test_one_scheduled_evaluation_per_repository_and_none_when_off(tmp_path: Path) -> None:
    async with opened_store(f"sqlite:///{tmp_path / 'patchbot.db'}") as store:
        run = await schedule_eval(store, "octo/calc", 42, Policy(), due=100.0)
        assert (run.trigger, run.not_before, run.repeat_seconds) == (
            "eval",
            100.0,
            EVAL_PERIODS["weekly"],
        )
        with pytest.raises(ActiveRunExists):
            await schedule_eval(store, "octo/calc", 42, Policy(), due=200.0)
        off = Policy(eval=EvalPolicy(schedule="off"))
        with pytest.raises(ConfigError, match=r"eval\.schedule is off"):
            await schedule_eval(store, "octo/other", 42, off, due=100.0)


async def test_patchbot_eval_schedule_queues_the_first_once(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'patchbot.db'}"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PATCHBOT_POLICY")},
        "DATABASE_URL": database_url,
    }
    args = ("eval", "schedule", "octo/calc", "--installation", "42", "--delay", "60")
    first = await run_patchbot(*args, env=env)
    assert (first.returncode, first.stdout) == (0, "run 1: evaluates octo/calc weekly\n")
    again = await run_patchbot(*args, env=env)
    assert (again.returncode, again.stdout) == (0, "already scheduled: run 1 (queued)\n")
    off = tmp_path / "off.yml"
    off.write_text("eval:\n  schedule: off\n")
    refused = await run_patchbot(*args[:3], "--installation", "42", "--policy", str(off), env=env)
    assert refused.returncode == 2 and "eval.schedule is off" in refused.stderr
    async with opened_store(database_url) as store:
        [run] = await store.list_runs()
    assert run.not_before is not None and run.not_before > run.created_at + 59


def test_the_mined_tasks_are_the_repositorys_own_file_and_no_other(tmp_path: Path) -> None:
    checkout, outside = tmp_path / "repo", tmp_path / "outside.jsonl"
    (checkout / ".github").mkdir(parents=True)
    lines = "".join(task(f"t{i}").model_dump_json() + "\n" for i in range(3))
    (checkout / ".github" / "patchbot-eval.jsonl").write_text(lines)
    outside.write_text(lines)
    (checkout / "linked.jsonl").symlink_to(outside)

    chosen = mined_tasks(checkout, EvalPolicy(max_tasks=2))
    assert [t.instance_id for t in chosen] == ["t0", "t1"]
    for path in ("../outside.jsonl", str(outside), "linked.jsonl", "missing.jsonl"):
        with pytest.raises(ConfigError, match="no mined tasks at"):
            mined_tasks(checkout, EvalPolicy(tasks=path))
