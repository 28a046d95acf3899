"""What `patchbot demo` says at its end: where it kept its runs, with the exact commands that
show them, and a one-paragraph summary of what Patchbot did."""

from __future__ import annotations

import shlex
import sys
import textwrap
from pathlib import Path
from typing import Any

from bot.console import cost_text
from bot.runs.models import Run, RunState
from bot.runs.pipeline import trace_path
from bot.solve.verify import Change
from bot.testing.stack import MAINTAINER
from bot.trace import read_trace


def kept_text(stack: Any, run_ids: list[int]) -> str:
    """Where the demo's runs are kept, and the exact commands that show and remove them."""
    environment = stack.environment()
    settings = " ".join(
        f"{name}={shlex.quote(environment[name])}" for name in ("DATABASE_URL", "PATCHBOT_DATA_DIR")
    )
    program = _program()
    lines = [f"\n=== the demo's database and traces are kept in {stack.root}"]
    lines.append(f"  {settings} {program} runs list")
    lines += [f"  {settings} {program} runs show {run_id}" for run_id in run_ids]
    lines.append(f"remove them with: cd {shlex.quote(str(Path.cwd()))} && {program} demo --clean")
    return "\n".join(lines)


def _program() -> str:
    """The command that started this process: the `patchbot` script, or `python -m bot`."""
    if Path(sys.argv[0]).name == "patchbot":
        return shlex.quote(str(Path(sys.argv[0]).absolute()))
    return f"{shlex.quote(sys.executable)} -m bot"


def summary_text(
    stack: Any, number: int, first: tuple[Run, float], revision: tuple[Run, float] | None
) -> str:
    """One paragraph: the pull request, the verdict, the tests, the time and the cost."""
    run, took = first
    costs = [run.cost_usd] + ([revision[0].cost_usd] if revision else [])
    known = [cost for cost in costs if cost is not None]
    cost = cost_text(sum(known) if len(known) == len(costs) else None)
    if run.state is not RunState.SUCCEEDED or run.pr_url is None:
        text = (
            f"Summary: after {took:.1f} s, run #{run.id} {run.state.value} and no pull request "
            f"was opened for issue #{number}: {run.summary}. Model cost: {cost}."
        )
    else:
        text = (
            f"Summary: in {took:.1f} s Patchbot turned issue #{number} into pull request "
            f"{run.pr_url}. Verdict: {_verdict(stack, run.id)}."
        )
        if revision is not None:
            answer, seconds = revision
            text += (
                f" @{MAINTAINER}'s review took {seconds:.1f} s to answer: run #{answer.id} "
                f"{answer.state.value}, {answer.summary}."
            )
        if len(known) < len(costs):
            cost += f" ({stack.settings.model} has no price in litellm's table)"
        text += f" Model cost of the demo: {cost}."
    return textwrap.fill(text, width=92, break_long_words=False, break_on_hyphens=False)


def _verdict(stack: Any, run_id: int) -> str:
    """What the accepted verification of the run found: the tests it fixed, added, broke."""
    events = read_trace(trace_path(stack.settings.data_dir, run_id))
    accepted = [e for e in events if e["kind"] == "verification" and e["accepted"]]
    if not accepted:
        return "no verification accepted a change"
    changes = accepted[-1]["changes"]

    def tests(change: Change) -> str:
        return ", ".join(item["id"] for item in changes if item["change"] == change) or "none"

    return (
        f"verified by the repository's own tests in fresh sandboxes (attempt "
        f"{accepted[-1]['attempt']}); tests proven by failing first: "
        f"{tests(Change.PROVEN)}; tests fixed: {tests(Change.FIXED)}; "
        f"tests broken: {tests(Change.BROKEN)}"
    )
