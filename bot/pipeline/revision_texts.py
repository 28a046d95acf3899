"""What a revision run says: the feedback as the agent reads it, its commit message, its reply
in each review thread, and its status comment on the pull request.

Feedback and the agent's summary are untrusted: in prompts they sit in delimited blocks, and on
GitHub they are quoted with mentions defused, never carrying one of our markers.
"""

from __future__ import annotations

from bot.github.markdown import cut_middle, fenced, plain, quote
from bot.github.markers import status_marker
from bot.pipeline.branch import verified_message
from bot.pipeline.revision_branch import Merge
from bot.pipeline.texts import TESTS_END, TESTS_START, patch_details
from bot.runs.models import Feedback

MAX_ITEM_CHARS = 4000
"""Characters of one feedback item the agent reads (a comment may quote a huge log)."""


def _clip(text: str) -> str:
    return cut_middle(text, MAX_ITEM_CHARS)


def merge_detail(merge: Merge, base: str) -> str:
    if merge.state == "up_to_date":
        return f"already up to date with `{base}`"
    if merge.state == "clean":
        return f"merged `{base}` ({merge.base_sha[:12]}) without conflicts"
    return f"merged `{base}` with conflicts in {len(merge.conflicts)} file(s)"


def feedback_prompt(items: list[Feedback], diff: str, merge: Merge | None, base: str) -> str:
    """The pull request so far and the numbered feedback, for the agent."""
    parts = [f"The pull request's changes so far (`git diff {base}...HEAD`):", fenced(diff, "diff")]
    parts.append("Feedback to address:")
    number = 0
    for item in items:
        if item.kind == "update":
            continue
        number += 1
        if item.kind == "line":
            where = f"on `{item.path}` line {item.line}" if item.line else f"on `{item.path}`"
            head = f"{number}. Review comment by @{item.author} {where}:"
            hunk = fenced(item.diff_hunk or "", "diff") if item.diff_hunk else ""
            parts.append("\n".join(part for part in (head, hunk, _clip(item.body)) if part))
        elif item.kind == "review":
            text = _clip(item.body) or "(no text: see the line comments)"
            parts.append(f"{number}. Review by @{item.author}, changes requested:\n{text}")
        elif item.kind == "comment":
            text = _clip(item.body) or "(no instructions: address the review comments)"
            parts.append(f"{number}. @{item.author} asked for a revision:\n{text}")
        else:
            parts.append(f"{number}. A check failed on this branch:\n{_clip(item.body)}")
    if merge is not None and merge.state == "conflicts":
        number += 1
        files = ", ".join(merge.conflicts)
        parts.append(
            f"{number}. `{base}` was merged into this branch and these files have conflicts: "
            f"{files}. Resolve every conflict: remove all conflict markers (<<<<<<<, =======, "
            ">>>>>>>) and keep what both sides meant, then run the tests."
        )
    return "\n\n".join(parts)


def commit_message(pull: int, iteration: int, run_id: int, merge: Merge | None) -> str:
    if merge is not None and merge.state == "conflicts":
        subject = f"Merge the base branch into #{pull}, conflicts resolved (revision {iteration})"
    else:
        subject = f"Address review feedback on #{pull} (revision {iteration})"
    return verified_message(subject, run_id)


def with_tests(body: str, table: str, iteration: int, run_id: int, sha: str) -> str:
    """The pull request's body with the test table between its markers replaced; unchanged
    when the markers are gone."""
    start, end = body.find(TESTS_START), body.find(TESTS_END)
    if start < 0 or end < start:
        return body
    note = f"_As of revision {iteration} (run #{run_id}, commit {sha[:12]})._"
    return f"{body[: start + len(TESTS_START)]}\n{table}\n\n{note}\n{body[end:]}"


def thread_reply(run_id: int, iteration: int, sha: str, summary: str) -> str:
    lines = [
        f"<!-- patchbot:reply run={run_id} -->",
        f"Patchbot pushed {sha[:12]} for this review (revision {iteration}, run #{run_id}); "
        "the tests passed on it. What changed, in the agent's words (model output):",
        "",
        quote(summary or "(no summary)", 1500),
    ]
    return "\n".join(lines)


def done_text(run_id: int, iteration: int, sha: str, summary: str, table: str, replied: int) -> str:
    lines = [
        status_marker(run_id),
        f"**Patchbot pushed {sha[:12]}** to this pull request: revision {iteration}, run "
        f"#{run_id}, one new commit on top of the branch (nothing was rewritten).",
        "",
        table,
    ]
    if summary:
        lines += [
            "",
            "What it changed, and what it did not and why, in the agent's words (model output):",
            "",
            quote(summary, 3000),
        ]
    if replied:
        lines += ["", f"It answered {replied} review thread(s)."]
    lines += ["", "Review it as you would any other commit."]
    return "\n".join(lines)


def nothing_to_address(taken: list[Feedback]) -> str:
    """Why a revision found nothing it may act on."""
    if taken and all(item.kind == "check" for item in taken):
        return "repair runs for failed checks are off here (`revisions.ci_repair`)"
    return "none of the feedback is from someone who may steer Patchbot here"


def nothing_text(run_id: int, why: str) -> str:
    return "\n".join(
        [status_marker(run_id), f"**Patchbot pushed nothing** (run #{run_id}): {plain(why, 500)}."]
    )


def escalation_text(run_id: int, why: str, tried: str = "", patch: str = "") -> str:
    lines = [
        status_marker(run_id),
        f"**Patchbot could not revise this pull request on its own** (run #{run_id}); a human "
        "needs to look at it.",
        "",
        f"**Why it stopped:** {plain(why, 1000)}",
    ]
    if tried:
        lines += ["", "The agent's last summary (model output):", "", quote(tried, 800)]
    if patch:
        lines += patch_details(patch, "The verified patch")
    lines += [
        "",
        "Nothing was pushed and the branch is as it was. Comment `/patchbot revise "
        "<instructions>` to try again, or change the branch yourself.",
    ]
    return "\n".join(lines)
