"""What a run posts on GitHub: the status comment, the pull request body, the escalation.

Each text carries a hidden `<!-- patchbot:... run=N -->` marker, so a retried or resumed run
finds its own comment or pull request and edits it instead of posting another. Text that
came from the issue or the model is untrusted: it is quoted, its mentions are defused, and
it can never carry one of our markers.
"""

from __future__ import annotations

from bot.agent.loop import AgentStats
from bot.github.markdown import fenced, plain, quote
from bot.github.markers import CHECK_NAME, status_marker
from bot.policy.decisions import GateReport
from bot.runs.held import HeldPatch
from bot.runs.models import Run
from bot.setup.texts import setup_markdown
from bot.solve.outcome import SolveOutcome, SolveResult
from bot.solve.verdict_text import verdict_markdown
from bot.solve.verify import Verification

TESTS_START = "<!-- patchbot:tests -->"
TESTS_END = "<!-- /patchbot:tests -->"
"""Around the test table of a pull request's body: a revision replaces what is between."""


def pr_marker(run_id: int) -> str:
    return f"<!-- patchbot:pr run={run_id} -->"


def stats_line(stats: AgentStats, duration: float) -> str:
    tokens = stats.prompt_tokens + stats.completion_tokens
    return (
        f"{stats.steps} model calls, {stats.tool_calls} tool calls, {tokens:,} tokens "
        f"({stats.prompt_tokens:,} in, {stats.completion_tokens:,} out), cost {stats.cost_text()}, "
        f"{duration:.0f} s"
    )


def status_text(
    run_id: int, phases: list[tuple[str, str]], current: str, note: str, subject: str = "issue"
) -> str:
    """The status comment while a run works: done phases ticked, the current one with a note.
    `subject`: what the run works on (`issue`, `pull request`)."""
    lines = [
        status_marker(run_id),
        f"**Patchbot** is working on this {subject} (run #{run_id}).",
        "",
    ]
    for name, detail in phases:
        lines.append(f"- [x] {name}" + (f": {plain(detail)}" if detail else ""))
    lines.append(f"- [ ] **{current}**" + (f": {plain(note)}" if note else ""))
    lines += ["", "Comment `/patchbot stop` to stop me."]
    return "\n".join(lines)


def check_title(verification: Verification) -> str:
    """The title of the `patchbot/verify` check run: the tests after, and before."""
    return f"{verification.candidate_summary} (was {verification.baseline_summary})"


def test_table(verification: Verification) -> str:
    return verdict_markdown(verification)


def _policy_section(gates: GateReport, notes: list[str]) -> list[str]:
    lines = ["## Policy", "", gates.markdown()]
    if notes:
        lines += ["", "The repository's `.github/patchbot.yml` asked for, and did not get:", ""]
        lines += [f"- {plain(note)}" for note in notes]
    return lines


def pr_body(
    run_id: int,
    issue: int,
    result: SolveResult,
    model: str,
    gates: GateReport,
    notes: list[str],
) -> str:
    assert result.verification is not None
    return "\n".join(
        [
            pr_marker(run_id),
            f"Fixes #{issue}",
            "",
            "## What changed",
            "The agent's own summary (model output, unverified text):",
            "",
            quote(result.summary or "(no summary)"),
            "",
            "## Tests",
            "Patchbot ran the repository's test suite on the base commit and on this change, "
            "each in a fresh sandbox with no network:",
            "",
            TESTS_START,
            test_table(result.verification),
            TESTS_END,
            "",
            *_policy_section(gates, notes),
            "",
            "## Run",
            f"- run #{run_id}, model `{model}`, {len(result.attempts)} attempt(s)",
            f"- {stats_line(result.stats, result.duration)}",
            "",
            "_Patchbot is a bot. Review this change as you would any other; the check "
            f"`{CHECK_NAME}` carries the test results._",
        ]
    )


def escalation_text(run_id: int, result: SolveResult) -> str:
    lines = [
        status_marker(run_id),
        f"**Patchbot could not fix this issue on its own** (run #{run_id}); a human needs to "
        "look at it.",
        "",
        f"**Why it stopped:** {plain(result.detail or result.stop_reason.value, 1000)}",
        "",
        f"**What it tried:** {len(result.attempts)} verified attempt(s).",
    ]
    if result.summary:
        lines += ["The agent's last summary (model output):", "", quote(result.summary, 800)]
    if result.stop_reason is SolveOutcome.SETUP_FAILED and result.setup is not None:
        lines += ["", setup_markdown(result.setup)]
    if result.verification is not None:
        lines += ["", "**Last verification:**", "", test_table(result.verification)]
    elif result.baseline is not None:
        lines += ["", f"**Tests on the base commit:** {result.baseline.summary_line()}"]
    lines += [
        "",
        f"**Spent:** {stats_line(result.stats, result.duration)}",
        "",
        "Nothing was pushed. To try again, comment `/patchbot retry`, or "
        "`/patchbot fix <more instructions>` to tell me more.",
    ]
    return "\n".join(lines)


def config_error_text(run_id: int, error: str) -> str:
    return "\n".join(
        [
            status_marker(run_id),
            f"**Patchbot cannot work on this repository** (run #{run_id}): its "
            "configuration is invalid.",
            "",
            fenced(error),
            "",
            "Fix `.github/patchbot.yml` on the default branch (check it with "
            "`patchbot policy check --repo PATH`), then comment "
            "`/patchbot retry`. Nothing was pushed.",
        ]
    )


def again_command(run: Run) -> str:
    """What to comment to try again: a first run is retried, a revision asked for again."""
    return "/patchbot revise" if run.pull_request is not None else "/patchbot retry"


def failure_text(run: Run, error: str) -> str:
    run_id = run.id
    return "\n".join(
        [
            status_marker(run_id),
            f"**Patchbot failed** on run #{run_id}: {plain(error, 1000)}",
            "",
            "Nothing was pushed. This is a problem on Patchbot's side or with reaching GitHub, "
            f"not a verdict on the work. To try again, comment `{again_command(run)}`.",
        ]
    )


def unpublished_text(run_id: int, error: str) -> str:
    """The run verified a patch and could not push it or open its pull request."""
    return "\n".join(
        [
            status_marker(run_id),
            f"**Patchbot verified a patch but could not publish it** (run #{run_id}): "
            f"{plain(error, 1000)}",
            "",
            "The verified patch is kept. Comment `/patchbot retry` to push it and open the pull "
            "request without running the agent again.",
        ]
    )


def stopped_text(run: Run) -> str:
    return "\n".join(
        [
            status_marker(run.id),
            f"**Patchbot stopped** run #{run.id}, as asked. Its sandbox is gone and nothing "
            f"was pushed. Comment `{again_command(run)}` to start again.",
        ]
    )


def done_text(run_id: int, pr_url: str, tests: str) -> str:
    return "\n".join(
        [
            status_marker(run_id),
            f"**Patchbot opened {pr_url}** for this issue (run #{run_id}).",
            "",
            tests,
            "",
            "Review it as you would any other pull request.",
        ]
    )


def patch_details(patch: str, summary: str = "The patch") -> list[str]:
    """Lines showing `patch` folded away, for a human to apply (never when the secrets scan
    held it back: that would repeat a credential in a comment)."""
    return ["", f"<details><summary>{summary}</summary>", "", fenced(patch, "diff"), "</details>"]


def held_text(run_id: int, gates: GateReport, patch: str, result: SolveResult | None) -> str:
    """A gate denied the run, or holds its verified patch until a human decides."""
    denied = gates.verdict == "deny"
    lines = [
        status_marker(run_id),
        f"**Patchbot stopped before pushing** (run #{run_id}): "
        + ("the policy does not allow this change." if denied else "this change needs a human."),
        "",
        gates.markdown(),
    ]
    if result is not None and result.verification is not None:
        lines += ["", "**Verification:**", "", test_table(result.verification)]
    if patch and not gates.secret_found:
        lines += patch_details(patch)
    lines += [
        "",
        "Nothing was pushed. A maintainer can apply the patch by hand, or change what the "
        "policy holds back and comment `/patchbot retry`.",
    ]
    return "\n".join(lines)


def patch_comment_text(run_id: int, tests: str, patch: str, body: str) -> str:
    """Autonomy `comment`: the verified patch itself, for a human to apply."""
    return "\n".join(
        [
            status_marker(run_id),
            f"**Patchbot has a verified patch** for this issue (run #{run_id}). This "
            "repository's policy lets it comment only, so it pushed nothing.",
            "",
            tests,
            "",
            fenced(patch, "diff"),
            "",
            "Apply it with `git apply`. What the pull request would have said:",
            "",
            "<details><summary>Details</summary>",
            "",
            body.replace(pr_marker(run_id), ""),
            "</details>",
        ]
    )


def awaiting_text(run_id: int, gates: GateReport, result: SolveResult, held: HeldPatch) -> str:
    """The run paused: what needs a human's approval, and who may give it."""
    who = f"someone with **{held.approval.min_permission}** access"
    if not held.approval.allow_requester:
        who += f" other than @\u200b{held.requester}"
    lines = [
        status_marker(run_id),
        f"**Patchbot is waiting for approval** (run #{run_id}): its patch is verified, but "
        "the policy wants a human to say yes before it is pushed.",
        "",
        gates.markdown(),
    ]
    if result.verification is not None:
        lines += ["", test_table(result.verification)]
    if not gates.secret_found:
        lines += patch_details(held.patch)
    lines += [
        "",
        f"To push it and open the pull request, {who} comments `/patchbot approve`; "
        "`/patchbot reject` drops it. Nothing is pushed until then.",
    ]
    return "\n".join(lines)


def approval_line(login: str) -> str:
    """The line an approved pull request's body ends with."""
    return f"**Approved by @{login}** before Patchbot pushed it (a policy gate asked for it)."
