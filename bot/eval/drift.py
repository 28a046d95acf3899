"""Quality drift between two evaluations of a repository: when a drop is an alert, and the
comment that raises it on the repository's issue."""

from __future__ import annotations

import json

from bot.eval.compare import compare
from bot.github.markdown import fenced
from bot.policy.model import EvalPolicy
from bot.runs.evals import EvalRecord

ALERT_MARKER = "<!-- patchbot:eval-alert run={run_id} -->"
"""The first line of an alert's comment (format with `run_id`): a retried run finds it."""


def drift(previous: EvalRecord | None, current: EvalRecord, policy: EvalPolicy) -> list[str]:
    """Why `current` is an alert after `previous` (empty: it is not): the resolve rate fell by
    more than `max_resolve_drop`, or wrong pull requests rose by more than `max_wrong_pr_rise`."""
    if previous is None:
        return []
    reasons = []
    before, after = previous.resolve_rate, current.resolve_rate
    if before is not None and after is not None and before - after > policy.max_resolve_drop:
        reasons.append(
            f"the resolve rate fell from {before:.0%} to {after:.0%} "
            f"(eval.max_resolve_drop: {policy.max_resolve_drop:.0%})"
        )
    rise = current.accepted_unresolved - previous.accepted_unresolved
    if rise > policy.max_wrong_pr_rise:
        reasons.append(
            f"pull requests that would not resolve their task rose from "
            f"{previous.accepted_unresolved} to {current.accepted_unresolved} "
            f"(eval.max_wrong_pr_rise: {policy.max_wrong_pr_rise})"
        )
    return reasons


def _figures(record: EvalRecord) -> str:
    rate = "-" if record.resolve_rate is None else f"{record.resolve_rate:.0%}"
    cost = "unknown" if record.cost_usd is None else f"${record.cost_usd:.2f}"
    return (
        f"{record.resolved} of {record.runs} ({rate}) | {record.accepted} | "
        f"{record.accepted_unresolved} | {cost}"
    )


def alert_comment(previous: EvalRecord, current: EvalRecord, reasons: list[str]) -> str:
    """The alert's comment: why, both evaluations' figures, and what changed task by task
    (task names and models come from files and settings: shown inert, in a code block)."""
    changes = compare(json.loads(previous.results), json.loads(current.results))
    lines = [
        ALERT_MARKER.format(run_id=current.run_id),
        "**Patchbot's scheduled evaluation of this repository dropped.**",
        "",
        *(f"- {reason}" for reason in reasons),
        "",
        "| evaluation | resolved | PRs opened | PRs opened, not resolved | cost |",
        "| --- | --- | --- | --- | --- |",
        f"| previous (run {previous.run_id}) | {_figures(previous)} |",
        f"| this one (run {current.run_id}) | {_figures(current)} |",
        "",
        fenced("\n".join(changes)),
        "",
        "The tasks are this repository's mined set (policy `eval.tasks`); a change of model, "
        "prompt, policy or Patchbot version shows at the top of the comparison.",
    ]
    return "\n".join(lines)
