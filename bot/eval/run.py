"""`patchbot eval run`: each task on a history-free copy of its base commit, through the same
`solve` the server runs, graded as SWE-bench grades; one result line per finished run, so a
killed evaluation resumes with the runs it had not finished."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from bot.agent.limits import agent_limits
from bot.agent.model import ModelConfig
from bot.agent.scripted import ScriptedModel, ScriptedServer
from bot.console import cost_text
from bot.errors import ConfigError, PatchbotError
from bot.eval.gitops import history_free_copy
from bot.eval.grade import grade
from bot.eval.report import write_report
from bot.eval.results import Row, RunInfo, cost_so_far, summarize
from bot.eval.tasks import Task, append_jsonl, read_jsonl, read_tasks
from bot.eval.trajectories import SCRIPTED, trajectory
from bot.policy.load import effective_policy, load_policy_file
from bot.policy.model import Policy
from bot.sandbox.config import sandbox_config
from bot.sandbox.deferred import temporary_folder
from bot.settings import Settings
from bot.solve.request import SolveRequest
from bot.solve.solver import solve
from bot.solve.verify import SandboxOpener, verify_config
from bot.trace import Redactor, Trace

RESULTS = "results.jsonl"
INFO = "run.json"


class RunOptions(BaseModel):
    out: Path
    model: str
    """A litellm model string, or one of the scripted harness checks (`oracle`, `tests-only`)."""
    concurrency: int = 1
    attempts: int = 1
    """Independent runs of each task (pass@k); each is a row of its own."""
    repo: Path | None = None
    """The local repository holding the tasks' base commits (default: each task's `repo_path`)."""
    image: str | None = None
    """Pin one sandbox image instead of the choice by Python version."""
    budget_usd: float | None = Field(default=None, gt=0)
    """Start no further run once the runs so far cost this many US dollars (runs of unknown
    cost count nothing); the runs already going finish. None: no cap."""


def live_model(
    settings: Settings, *, model: str | None = None, api_base: str | None = None
) -> tuple[str, ModelConfig | None]:
    """The model an evaluation runs (`model`, else the settings' as the server calls it): its
    name, and its configuration unless it is a scripted harness check."""
    name = model or settings.model
    if name in SCRIPTED:
        return name, None
    from bot.agent.model import configured_model

    configured = configured_model(settings, model=model, api_base=api_base)
    return configured.model, configured


def _name(text: str) -> str:
    return re.sub(r"[^\w.-]", "_", text)[:120]


@contextlib.asynccontextmanager
async def _model(
    options: RunOptions, task: Task, configured: ModelConfig | None, attempts: int
) -> AsyncIterator[ModelConfig]:
    """The model a run calls: the scripted server replaying the task, or the configured one."""
    if options.model not in SCRIPTED:
        assert configured is not None
        yield configured
        return
    script = trajectory(options.model, task, attempts)
    async with ScriptedServer(ScriptedModel(script)) as server:
        yield ModelConfig(model="openai/scripted", api_base=server.api_base, max_retries=0)


class Evaluation:
    """One evaluation folder: its tasks, what ran already, and the runs still to do."""

    def __init__(
        self,
        options: RunOptions,
        tasks: list[Task],
        policy: Policy,
        info: RunInfo,
        *,
        configured: ModelConfig | None,
        redactor: Redactor,
        opener: SandboxOpener,
        say: Callable[[str], None],
    ) -> None:
        self.options, self.tasks, self.policy, self.info = options, tasks, policy, info
        self.configured, self.redactor, self.opener, self.say = configured, redactor, opener, say
        self.results = options.out / RESULTS
        self.rows = [Row.model_validate(record) for record in read_jsonl(self.results)]

    def todo(self) -> list[tuple[Task, int]]:
        done = {(row.instance_id, row.attempt) for row in self.rows}
        return [
            (task, attempt)
            for task in self.tasks
            for attempt in range(1, self.options.attempts + 1)
            if (task.instance_id, attempt) not in done
        ]

    def _repo(self, task: Task) -> Path:
        repo = self.options.repo or (Path(task.repo_path) if task.repo_path else None)
        if repo is None:
            raise ConfigError(f"task {task.instance_id} names no local repository: pass --repo")
        return repo

    async def run_one(self, task: Task, attempt: int) -> Row:
        trace_path = self.options.out / "traces" / f"{_name(task.instance_id)}-{attempt}.jsonl"
        trace_path.unlink(missing_ok=True)  # a killed run's partial trace
        trace_name = trace_path.relative_to(self.options.out)
        try:
            return await self._solve_and_grade(task, attempt, trace_path, trace_name)
        except PatchbotError as error:
            return Row.failed(task, attempt, str(error).splitlines()[0], trace_name)

    async def _solve_and_grade(
        self, task: Task, attempt: int, trace_path: Path, trace_name: Path
    ) -> Row:
        title, _, body = task.problem_statement.strip().partition("\n")
        # Removed after the sandboxes that mounted its checkouts (in a worker, in the
        # background: see bot.sandbox.deferred).
        async with temporary_folder("patchbot-eval-", None) as root:
            base = await asyncio.to_thread(
                history_free_copy, self._repo(task), task.base_commit, root / "base"
            )
            policy = effective_policy(self.policy, base).policy
            # Set-up environments shared only by runs of this base: one made from a later
            # commit (a regular install of its code, its version file) never reaches it.
            scope = f"eval:{task.repo}:{task.base_commit}"
            sandbox = sandbox_config(policy, cache_scope=scope, image=self.options.image)
            verify = verify_config(policy)
            scripted = _model(self.options, task, self.configured, verify.max_attempts)
            async with scripted as model:
                request = SolveRequest(
                    repo=base,
                    issue_title=title.strip() or task.instance_id,
                    issue_body=body.strip(),
                    model=model,
                    sandbox=sandbox,
                    limits=agent_limits(policy),
                    verify=verify,
                    work_dir=root,
                )
                with Trace(trace_path, self.redactor) as trace:
                    result = await solve(request, trace=trace, open_sandbox=self.opener)
            graded = await grade(base, root / "graded", task, result.patch, sandbox, self.opener)
        return Row.from_run(task, attempt, result, graded, trace_name)

    def over_budget(self) -> bool:
        budget = self.options.budget_usd
        return budget is not None and sum(row.cost_usd or 0.0 for row in self.rows) >= budget

    async def run(self) -> list[Row]:
        todo = self.todo()
        total = len(self.tasks) * self.options.attempts
        if len(todo) < total:
            self.say(f"resuming: {total - len(todo)} of {total} runs done before")
        started = time.monotonic()
        queue: asyncio.Queue[tuple[Task, int]] = asyncio.Queue()
        for item in todo:
            queue.put_nowait(item)
        finished = 0

        async def worker() -> None:
            nonlocal finished
            while not queue.empty():
                if self.over_budget():  # the runs left are dropped, and said once
                    left = queue.qsize()
                    while not queue.empty():
                        queue.get_nowait()
                    budget = cost_text(self.options.budget_usd)
                    self.say(f"budget of {budget} spent: {left} run(s) not started")
                    return
                task, attempt = queue.get_nowait()
                row = await self.run_one(task, attempt)
                append_jsonl(self.results, row.model_dump(mode="json"))
                self.rows.append(row)
                finished += 1
                elapsed = time.monotonic() - started
                eta = elapsed / finished * (len(todo) - finished)
                self.say(
                    f"[{len(self.rows)}/{total}] {task.instance_id} #{attempt}: "
                    f"{row.outcome()} in {row.duration:.0f} s  |  elapsed {_clock(elapsed)}, "
                    f"ETA {_clock(eta)}, cost {cost_so_far(self.rows)}"
                )

        workers = max(1, min(self.options.concurrency, len(todo)))
        await asyncio.gather(*(worker() for _ in range(workers)))
        return self.rows


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{rest:02d}"


def _info(options: RunOptions, tasks_file: Path, policy_path: Path) -> RunInfo:
    """This run's description; the folder's own when resuming (ConfigError if it differs)."""
    from datetime import UTC, datetime
    from importlib.metadata import version

    info = RunInfo(
        model=options.model,
        policy=str(policy_path),
        tasks_file=str(tasks_file.resolve()),
        attempts=options.attempts,
        patchbot_version=version("patchbot"),
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    path = options.out / INFO
    if not path.exists():
        options.out.mkdir(parents=True, exist_ok=True)
        path.write_text(info.model_dump_json(indent=2) + "\n")
        return info
    kept = RunInfo.model_validate_json(path.read_text())
    for field in ("model", "policy", "tasks_file", "attempts"):
        if getattr(kept, field) != getattr(info, field):
            raise ConfigError(
                f"{options.out} holds a run with {field} {getattr(kept, field)!r}, not "
                f"{getattr(info, field)!r}: resume it as it was, or give another --out"
            )
    return kept


async def evaluate(
    options: RunOptions,
    tasks_file: Path,
    *,
    policy_path: Path,
    configured: ModelConfig | None,
    redactor: Redactor,
    opener: SandboxOpener,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Run what the folder has not run yet, then write its report; the summary."""
    tasks = read_tasks(tasks_file)
    if len({task.instance_id for task in tasks}) != len(tasks):
        raise ConfigError(f"{tasks_file} holds an instance_id twice")
    info = _info(options, tasks_file, policy_path)
    policy = load_policy_file(policy_path)
    evaluation = Evaluation(
        options, tasks, policy, info,
        configured=configured, redactor=redactor, opener=opener, say=say,
    )  # fmt: skip
    rows = await evaluation.run()
    summary = summarize(info, tasks, rows)
    write_report(options.out, summary)
    return summary
