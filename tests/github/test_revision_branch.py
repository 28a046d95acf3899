"""The pull request's branch during a revision, over the simulator's git smart HTTP: fetched as
it is, merged with its base (cleanly or with conflicts), one commit on top, pushed only as a
fast-forward; and the texts that keep a huge log out of the prompt and swap the test table."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.github import git
from bot.pipeline import revision_texts
from bot.pipeline.revision_branch import (
    BranchMoved,
    commit_revision,
    fetch_head,
    leftover_markers,
    merge_base,
    push_fast_forward,
)
from bot.pipeline.texts import TESTS_END, TESTS_START
from bot.runs.models import Feedback
from bot.testing.simulator import GitHubSimulator
from tests.github.conftest import REPO

BRANCH = "patchbot/issue-1-add"
FIXED = "def add(a, b):\n    return a + b\n"


async def cloned(github: GitHubSimulator, tmp_path: Path) -> tuple[Path, str, str]:
    """A clone of main with the pull request's branch pushed by "Patchbot"; (checkout, url,
    token)."""
    token = github.mint_token(7).token
    url = github.git_url(REPO)
    checkout = tmp_path / "checkout"
    await git.clone(url, checkout, token, branch="main")
    await github.push_commit(REPO, "main", {"NOTES.md": "x\n"}, by="maintainer", message="seed")
    await git.run_git(["fetch", "--quiet", "origin"], cwd=checkout, url=url, token=token)
    return checkout, url, token


async def branch_with_fix(github: GitHubSimulator, checkout: Path, url: str, token: str) -> str:
    await git.run_git(["checkout", "--quiet", "-b", BRANCH, "origin/main"], cwd=checkout)
    (checkout / "calc.py").write_text(FIXED)
    await git.run_git(
        ["-c", "user.name=p", "-c", "user.email=p@x", "commit", "-qam", "Fix"], cwd=checkout
    )
    await git.run_git(
        ["push", "--quiet", url, f"HEAD:refs/heads/{BRANCH}"], cwd=checkout, url=url, token=token
    )
    return (await git.run_git(["rev-parse", "HEAD"], cwd=checkout)).strip()


async def test_a_commit_on_top_of_a_human_push_goes_out_as_a_fast_forward(
    github: GitHubSimulator, tmp_path: Path
) -> None:
    checkout, url, token = await cloned(github, tmp_path)
    await branch_with_fix(github, checkout, url, token)
    human = await github.push_commit(
        REPO, BRANCH, {"README.md": "# demo, by a human\n"}, by="maintainer", message="Docs"
    )
    assert await fetch_head(checkout, url, BRANCH, token) == human
    patch = (
        "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,3 @@\n+# adds\n def add(a, b):\n"
        "     return a + b\n"
    )
    sha = await commit_revision(checkout, patch, "Revise\n", human, None)
    await push_fast_forward(checkout, sha, BRANCH, url, token)
    assert await github.branch_sha(REPO, BRANCH) == sha
    parent = await git.run_git(["rev-parse", f"{sha}^"], cwd=checkout)
    assert parent.strip() == human


async def test_a_branch_that_moved_meanwhile_is_never_overwritten(
    github: GitHubSimulator, tmp_path: Path
) -> None:
    checkout, url, token = await cloned(github, tmp_path)
    head = await branch_with_fix(github, checkout, url, token)
    assert await fetch_head(checkout, url, BRANCH, token) == head
    (checkout / "calc.py").write_text(FIXED + "\n# ours\n")
    diff = await git.run_git(["diff"], cwd=checkout)
    await git.run_git(["checkout", "--quiet", "--", "calc.py"], cwd=checkout)
    sha = await commit_revision(checkout, diff, "Revise\n", head, None)
    human = await github.push_commit(
        REPO, BRANCH, {"calc.py": FIXED + "# theirs\n"}, by="maintainer", message="Mine"
    )
    with pytest.raises(BranchMoved, match="nothing was pushed"):
        await push_fast_forward(checkout, sha, BRANCH, url, token)
    assert await github.branch_sha(REPO, BRANCH) == human


async def test_a_deleted_branch_has_no_head(github: GitHubSimulator, tmp_path: Path) -> None:
    checkout, url, token = await cloned(github, tmp_path)
    assert await fetch_head(checkout, url, "patchbot/issue-9-gone", token) is None


async def test_merging_the_base_clean_up_to_date_and_with_conflicts(
    github: GitHubSimulator, tmp_path: Path
) -> None:
    checkout, url, token = await cloned(github, tmp_path)
    head = await branch_with_fix(github, checkout, url, token)
    await fetch_head(checkout, url, BRANCH, token)
    assert (await merge_base(checkout, "main", BRANCH)).state == "up_to_date"

    await github.push_commit(
        REPO,
        "main",
        {"calc.py": "def add(a, b):\n    return b + a\n"},
        by="maintainer",
        message="Swap",
    )
    await git.run_git(["fetch", "--quiet", "origin"], cwd=checkout, url=url, token=token)
    merge = await merge_base(checkout, "main", BRANCH)
    assert merge.state == "conflicts" and merge.conflicts == ["calc.py"]
    assert leftover_markers(checkout, merge.conflicts) == ["calc.py"]
    lines = (checkout / "calc.py").read_text().splitlines()
    resolved = (
        f"--- a/calc.py\n+++ b/calc.py\n@@ -1,{len(lines)} +1,2 @@\n"
        + "".join(f"-{line}\n" for line in lines)
        + "+def add(a, b):\n+    return a + b\n"
    )
    sha = await commit_revision(checkout, resolved, "Merge\n", head, merge)
    parents = (await git.run_git(["log", "-1", "--format=%P", sha], cwd=checkout)).split()
    assert parents == [head, merge.base_sha]
    shown = await git.run_git(["show", f"{sha}:calc.py"], cwd=checkout)
    assert shown == FIXED


def item(kind: str, body: str, **extra: object) -> Feedback:
    return Feedback.model_validate(
        {
            "id": 1,
            "repository": REPO,
            "pull_request": 2,
            "kind": kind,
            "author": "maintainer",
            "body": body,
            "source_id": 5,
            "received_at": 0.0,
            **extra,
        }
    )


def test_a_huge_log_in_feedback_is_cut_to_its_start_and_end() -> None:
    log = "START\n" + "noise\n" * 50_000 + "END of the log\n"
    prompt = revision_texts.feedback_prompt(
        [item("comment", log), item("line", "rename x", path="calc.py", line=2)], "", None, "main"
    )
    assert "START" in prompt and "END of the log" in prompt
    assert "characters cut" in prompt and len(prompt) < 10_000
    assert "2. Review comment by @maintainer on `calc.py` line 2:" in prompt


def test_the_test_table_is_swapped_between_its_markers_only() -> None:
    body = f"intro\n{TESTS_START}\nold table\n{TESTS_END}\noutro"
    new = revision_texts.with_tests(body, "new table", 2, 9, "a" * 40)
    assert "old table" not in new and "new table" in new
    assert new.startswith("intro\n") and new.endswith("outro")
    assert "As of revision 2 (run #9, commit aaaaaaaaaaaa)" in new
    edited = "a body a human rewrote"
    assert revision_texts.with_tests(edited, "new table", 2, 9, "a" * 40) == edited
