"""`report.md`: what a solve run did and why it ended, for the human who reads it first."""

from __future__ import annotations

from bot.setup.texts import setup_markdown
from bot.solve.outcome import SolveOutcome, SolveResult
from bot.solve.request import SolveRequest
from bot.solve.verdict_text import ORDER
from bot.solve.verify import Change

_HEADLINES = {
    SolveOutcome.VERIFIED: "Verified patch",
    SolveOutcome.REJECTED: "No verified patch: verification rejected the last candidate",
    SolveOutcome.STEP_LIMIT: "No verified patch: step limit reached",
    SolveOutcome.COST_LIMIT: "No verified patch: cost limit reached",
    SolveOutcome.TIME_LIMIT: "No verified patch: time limit reached",
    SolveOutcome.MODEL_ERROR: "No verified patch: the model could not be called",
    SolveOutcome.SANDBOX_ERROR: "No verified patch: the sandbox failed during the run",
    SolveOutcome.SETUP_FAILED: "No verified patch: the repository's tests could not be set up",
}
TABLE_ROWS = 40
"""Most tests listed in the before/after table."""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_report(request: SolveRequest, result: SolveResult) -> str:
    stats = result.stats
    lines = [
        f"# Patchbot: {_HEADLINES[result.stop_reason]}",
        "",
        f"**Issue:** {_cell(request.issue_title)}",
        "",
        f"**Stop reason:** `{result.stop_reason.value}`: {result.detail}",
        "",
        "## Summary",
        "",
        result.summary or "_The agent gave no summary._",
        "",
        "## Run",
        "",
        "| | |",
        "| --- | --- |",
        f"| repository | `{request.repo}` at `{result.base_commit[:12]}` |",
        f"| model | `{request.model.model}` |",
        f"| steps | {stats.steps} of {request.limits.max_steps} (tool calls: {stats.tool_calls}) |",
        f"| tokens | {stats.prompt_tokens} prompt, {stats.completion_tokens} completion |",
        f"| cost | {stats.cost_text()} |",
        f"| attempts | {len(result.attempts)} of {request.verify.max_attempts} |",
        f"| duration | {result.duration:.1f} s (model {stats.model_seconds:.1f} s, "
        f"tools {stats.tool_seconds:.1f} s) |",
        "",
    ]
    if result.setup is not None and result.stop_reason is SolveOutcome.SETUP_FAILED:
        lines += ["## Set-up", "", setup_markdown(result.setup), ""]
    if result.baseline is not None:
        lines += ["## Tests", "", f"Before (base commit): {result.baseline.summary_line()}", ""]
    verification = result.verification
    if verification is not None:
        lines += [f"After (last candidate): {verification.candidate_summary}", ""]
        lines += [f"Verdict: {verification.reason}", ""]
        lines += ["| test | before | after | change |", "| --- | --- | --- | --- |"]
        ranked = sorted(verification.changes, key=lambda item: ORDER.index(item.change))
        unchanged = verification.count(Change.STILL_PASSING)
        if len(ranked) > TABLE_ROWS:  # a big suite: list what changed, count the rest
            ranked = [item for item in ranked if item.change is not Change.STILL_PASSING]
        for item in ranked[:TABLE_ROWS]:
            before = item.before.value if item.before else "—"
            after = item.after.value if item.after else "—"
            lines.append(f"| `{_cell(item.id)}` | {before} | {after} | {item.change.value} |")
        shown = min(len(ranked), TABLE_ROWS)
        if shown < len(verification.changes):
            hidden = len(verification.changes) - shown
            lines.append(f"\n{hidden} more tests not listed ({unchanged} still passing).")
        lines.append("")
    if result.attempts:
        lines += ["## Attempts", ""]
        lines += [f"{attempt.number}. {attempt.reason}" for attempt in result.attempts]
        lines.append("")
    if not result.verified:
        lines += [
            "## What now",
            "",
            "`patch.diff` holds the last unverified changes, if any; do not apply them blindly. "
            "`trace.jsonl` has every model call and tool result. Raise the limits "
            "(`--max-steps`, `--cost-limit`, `--time-limit`, `--max-attempts`) or make the "
            "issue more specific, then run `patchbot solve` again.",
            "",
        ]
    return "\n".join(lines)
