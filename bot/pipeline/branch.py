"""The run's branch: one commit with the verified patch, pushed without ever clobbering a human.

A branch Patchbot pushed before (its tip carries a `Patchbot-Run:` trailer, and every commit
only the branch has is Patchbot's) is replaced with `--force-with-lease`, so a retried run
updates its branch instead of making a second one; a branch holding anyone else's commit is
left alone and the run escalates.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.errors import PatchbotError
from bot.github.git import apply_patch, remote_branch_sha, run_git

TRAILER = "Patchbot-Run"
BOT_NAME = "patchbot[bot]"
BOT_EMAIL = "patchbot[bot]@users.noreply.github.com"
AS_BOT = ["-c", f"user.name={BOT_NAME}", "-c", f"user.email={BOT_EMAIL}"]
"""git options that make a commit (or merge) the bot's, its author and committer alike."""


class BranchTaken(PatchbotError, RuntimeError):
    """The branch exists with commits Patchbot did not make."""


def branch_name(issue: int, title: str) -> str:
    """`patchbot/issue-<N>-<slug>`, the slug made of the title's first words."""
    words = re.sub(r"[^a-z0-9]+", " ", title.lower()).split()
    slug = ""
    for word in words:  # whole words, at most 40 characters
        if len(slug) + len(word) + 1 > 40:
            break
        slug = f"{slug}-{word}" if slug else word
    return f"patchbot/issue-{issue}" + (f"-{slug}" if slug else "")


def commit_message(issue: int, title: str, run_id: int) -> str:
    subject = f"Fix #{issue}: {title}".strip()
    if len(subject) > 72:
        subject = subject[:71].rstrip() + "…"
    return verified_message(subject, run_id)


def verified_message(subject: str, run_id: int) -> str:
    """A commit message of Patchbot's, a first run's or a revision's: `subject`, that the tests
    verified it, and the trailer by which a retried run knows the commit as its own."""
    body = "Verified by the repository's tests in Patchbot's sandbox."
    return f"{subject}\n\n{body}\n\n{TRAILER}: {run_id}\n"


async def commit_patch(checkout: Path, branch: str, patch: str, message: str) -> str:
    """Apply `patch` on a new local branch at HEAD and commit it as the bot; the commit id."""
    await run_git(["checkout", "--quiet", "-B", branch], cwd=checkout)
    await apply_patch(checkout, patch)
    await run_git([*AS_BOT, "commit", "--quiet", "--no-verify", "-m", message], cwd=checkout)
    return (await run_git(["rev-parse", "HEAD"], cwd=checkout)).strip()


async def push_branch(checkout: Path, branch: str, url: str, token: str) -> None:
    """Push HEAD to `branch`; replace it only when its tip is Patchbot's own commit."""
    tip = await remote_branch_sha(url, branch, token)
    lease = []
    if tip is not None:
        await run_git(
            ["fetch", "--quiet", "--no-tags", url, f"refs/heads/{branch}"],
            cwd=checkout,
            url=url,
            token=token,
        )
        # Ours only if Patchbot committed it: a human who amends or rebases becomes the
        # committer, even when the trailer stays in the message.
        tip_format = f"--format=%ce%n%(trailers:key={TRAILER},valueonly)"
        committer, _, run = (
            await run_git(["log", "-1", tip_format, "FETCH_HEAD"], cwd=checkout)
        ).partition("\n")
        # Every commit only the branch has must be Patchbot's too: a retry must not drop a
        # human's commit that a revision built on.
        own = await run_git(["log", "--format=%ce", "FETCH_HEAD", "--not", "HEAD"], cwd=checkout)
        others = [email for email in own.split() if email != BOT_EMAIL]
        if committer.strip() != BOT_EMAIL or not run.strip().isdigit() or others:
            raise BranchTaken(
                f"branch {branch} already exists with commits Patchbot did not make; "
                "delete or rename it, then comment `/patchbot retry`"
            )
        lease = [f"--force-with-lease=refs/heads/{branch}:{tip}"]
    await run_git(
        ["push", "--quiet", *lease, url, f"HEAD:refs/heads/{branch}"],
        cwd=checkout,
        url=url,
        token=token,
    )
