"""The pull request's branch during a revision: fetched as it is now (human commits included),
merged with its base when asked, one new commit on top, pushed as a fast-forward only.

Nothing here forces a push: when someone pushed to the branch while the revision ran, git
refuses the push, nothing is lost, and the run says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bot.errors import PatchbotError
from bot.github.git import GitError, apply_patch, remote_branch_sha, run_git
from bot.pipeline.branch import AS_BOT

_MARKER = re.compile(r"^(<{7}|={7}|>{7})( |$)", re.MULTILINE)


class BranchMoved(PatchbotError, RuntimeError):
    """Someone pushed to the pull request's branch while the revision ran."""


@dataclass
class Merge:
    """What merging the base branch into the pull request's head gave."""

    state: Literal["up_to_date", "clean", "conflicts"]
    base_sha: str
    conflicts: list[str] = field(default_factory=list)
    """Files with conflicts: HEAD is then a temporary commit holding them with their markers."""


async def fetch_head(checkout: Path, url: str, branch: str, token: str) -> str | None:
    """Check out the branch as it is on GitHub now, detached; its tip, or None when the branch
    was deleted."""
    tip = await remote_branch_sha(url, branch, token)
    if tip is None:
        return None
    fetch = ["fetch", "--quiet", "--no-tags", url, f"refs/heads/{branch}"]
    await run_git(fetch, cwd=checkout, url=url, token=token)
    await run_git(["checkout", "--quiet", "--detach", tip], cwd=checkout)
    return tip


async def merge_base(checkout: Path, base: str, pull_branch: str) -> Merge:
    """Merge `origin/<base>` (as cloned) into HEAD as the bot. On conflicts the conflicted
    tree is committed, markers and all, as a temporary HEAD for the agent to resolve."""
    base_sha = (await run_git(["rev-parse", f"origin/{base}"], cwd=checkout)).strip()
    try:
        await run_git(["merge-base", "--is-ancestor", base_sha, "HEAD"], cwd=checkout)
        return Merge("up_to_date", base_sha)
    except GitError as error:
        if error.returncode != 1:
            raise
    message = f"Merge branch '{base}' into {pull_branch}"
    try:
        await run_git(
            [*AS_BOT, "merge", "--no-ff", "--no-verify", "-m", message, base_sha], cwd=checkout
        )
        return Merge("clean", base_sha)
    except GitError:
        listed = await run_git(["diff", "--name-only", "--diff-filter=U"], cwd=checkout)
        conflicts = listed.split()
        if not conflicts:
            raise
    await run_git(["add", "--all", "."], cwd=checkout)
    await run_git(
        [*AS_BOT, "commit", "--quiet", "--no-verify", "-m", "unresolved merge (temporary)"],
        cwd=checkout,
    )
    return Merge("conflicts", base_sha, conflicts)


def leftover_markers(checkout: Path, files: list[str]) -> list[str]:
    """The files that still hold conflict markers."""
    found = []
    for name in files:
        path = checkout / name
        text = path.read_text(errors="replace") if path.is_file() else ""
        if _MARKER.search(text):
            found.append(name)
    return found


async def commit_revision(
    checkout: Path, patch: str, message: str, head: str, merge: Merge | None
) -> str:
    """The revision's commit on top of HEAD: the patch, committed as the bot (no patch: HEAD
    itself, a clean merge). When HEAD is the temporary unresolved merge, the commit is instead
    the real merge of the pull request's head and the base, with the resolved tree. Its id."""
    if patch.strip():
        await apply_patch(checkout, patch)
    if merge is not None and merge.state == "conflicts":
        tree = (await run_git(["write-tree"], cwd=checkout)).strip()
        made = await run_git(
            [*AS_BOT, "commit-tree", tree, "-p", head, "-p", merge.base_sha, "-m", message],
            cwd=checkout,
        )
        sha = made.strip()
        await run_git(["checkout", "--quiet", "--detach", sha], cwd=checkout)
        return sha
    if patch.strip():  # else HEAD is the new commit already: a clean merge
        await run_git([*AS_BOT, "commit", "--quiet", "--no-verify", "-m", message], cwd=checkout)
    return (await run_git(["rev-parse", "HEAD"], cwd=checkout)).strip()


async def push_fast_forward(checkout: Path, sha: str, branch: str, url: str, token: str) -> None:
    """Push `sha` to the branch without force; BranchMoved when the branch has moved on."""
    try:
        await run_git(
            ["push", "--quiet", url, f"{sha}:refs/heads/{branch}"],
            cwd=checkout,
            url=url,
            token=token,
        )
    except GitError as error:
        if (
            "non-fast-forward" in str(error)
            or "rejected" in str(error)
            or "fetch first" in str(error)
        ):
            raise BranchMoved(
                f"someone pushed to `{branch}` while Patchbot worked; nothing was pushed"
            ) from error
        raise
