"""What an evaluation found: a row per run, and the totals `results.json` carries."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from bot.console import cost_text
from bot.eval.grade import Grade
from bot.eval.tasks import Task
from bot.solve.outcome import SolveResult


class RunInfo(BaseModel):
    """What was evaluated: `compare` shows how two runs differ in it."""

    model: str
    policy: str
    """The policy file, or `default`."""
    tasks_file: str
    attempts: int
    patchbot_version: str
    started_at: str


class Row(BaseModel):
    """One run of one task."""

    instance_id: str
    attempt: int
    accepted: bool
    """Patchbot's verification accepted the candidate: it would have opened a pull request."""
    resolved: bool
    """SWE-bench's grading passed: every FAIL_TO_PASS and PASS_TO_PASS test passes."""
    stop_reason: str
    detail: str
    grade_reason: str
    failing: list[str] = Field(default_factory=list)
    cost_usd: float | None = None
    steps: int = 0
    tool_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration: float = 0.0
    patch_lines: int = 0
    """Added and removed lines of the candidate."""
    trace: str = ""
    """The run's trace, relative to the evaluation folder."""

    @classmethod
    def from_run(
        cls, task: Task, attempt: int, result: SolveResult, graded: Grade, trace: Path
    ) -> Row:
        stats = result.stats
        changed = [
            line
            for line in result.patch.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        return cls(
            instance_id=task.instance_id,
            attempt=attempt,
            accepted=result.verified,
            resolved=graded.resolved,
            stop_reason=result.stop_reason.value,
            detail=result.detail,
            grade_reason=graded.reason,
            failing=graded.failing,
            cost_usd=stats.cost_usd,
            steps=stats.steps,
            tool_calls=stats.tool_calls,
            prompt_tokens=stats.prompt_tokens,
            completion_tokens=stats.completion_tokens,
            duration=round(result.duration, 2),
            patch_lines=len(changed),
            trace=str(trace),
        )

    @classmethod
    def failed(cls, task: Task, attempt: int, error: str, trace: Path) -> Row:
        """A run that could not be made (the base commit is missing, the sandbox broke)."""
        return cls(
            instance_id=task.instance_id,
            attempt=attempt,
            accepted=False,
            resolved=False,
            stop_reason="eval_error",
            detail=error,
            grade_reason="not graded",
            trace=str(trace),
        )

    def outcome(self) -> str:
        return QUADRANTS[(self.accepted, self.resolved)]


QUADRANTS = {
    (True, True): "accepted, resolved",
    (True, False): "accepted, NOT resolved",
    (False, True): "refused, would have resolved",
    (False, False): "refused, not resolved",
}
"""The gate's confusion table: accepted = a pull request opened; resolved = the real tests pass."""


def total_cost(rows: list[Row]) -> float | None:
    """US dollars of every run; None when one run's cost is unknown (never guessed)."""
    if any(row.cost_usd is None for row in rows):
        return None
    return round(sum(row.cost_usd or 0.0 for row in rows), 6)


def cost_so_far(rows: list[Row]) -> str:
    known = sum(row.cost_usd or 0.0 for row in rows)
    unknown = sum(1 for row in rows if row.cost_usd is None)
    return cost_text(known) + (f" + {unknown} run(s) of unknown cost" if unknown else "")


def _ratio(part: float | None, whole: int) -> float | None:
    return None if part is None or not whole else round(part / whole, 6)


def summarize(info: RunInfo, tasks: list[Task], rows: list[Row]) -> dict[str, Any]:
    """`results.json`: the totals, the confusion table and a row per run."""
    count = Counter((row.accepted, row.resolved) for row in rows)
    resolved = count[True, True] + count[False, True]
    cost = total_cost(rows)
    order = {task.instance_id: index for index, task in enumerate(tasks)}
    ordered = sorted(rows, key=lambda row: (order.get(row.instance_id, len(order)), row.attempt))
    return {
        "run": info.model_dump(),
        "tasks": len(tasks),
        "runs": len(rows),
        "pending": len(tasks) * info.attempts - len(rows),
        "resolved": resolved,
        "resolved_tasks": len({row.instance_id for row in rows if row.resolved}),
        "resolve_rate": _ratio(resolved, len(rows)),
        "accepted": count[True, True] + count[True, False],
        "accepted_resolved": count[True, True],
        "accepted_unresolved": count[True, False],
        "refused_resolved": count[False, True],
        "refused_unresolved": count[False, False],
        "cost_usd": cost,
        "cost_per_task_usd": _ratio(cost, len(rows)),
        "cost_per_resolved_usd": _ratio(cost, resolved),
        "seconds": round(sum(row.duration for row in rows), 1),
        "mean_seconds": _ratio(sum(row.duration for row in rows), len(rows)),
        "mean_steps": _ratio(sum(row.steps for row in rows), len(rows)),
        "escalations": dict(Counter(row.stop_reason for row in rows if not row.accepted)),
        "rows": [row.model_dump(mode="json") for row in ordered],
    }
