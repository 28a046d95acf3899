"""Where the intake tests' deliveries come from: the GitHub simulator's own payloads about one
installed repository with one issue. Patchbot's calls back to GitHub go to the
`RecordingGitHubAPI` double each test scripts, not to the simulator."""

from __future__ import annotations

from typing import Any

from bot.testing.simulator import GitHubSimulator

REPO_NAME = "octo/hello"
INSTALLATION = 42
ISSUE = 1
"""The issue alice opened, which the deliveries are about."""
COMMENTS = f"/repos/{REPO_NAME}/issues/{ISSUE}/comments"
REACTIONS = f"/repos/{REPO_NAME}/issues/comments/*/reactions"
"""Reactions to any comment on the repository (their ids come from the simulator)."""


def seed(github: GitHubSimulator) -> None:
    """The repository, installed, with the issue."""
    github.add_repo(REPO_NAME)
    github.add_installation("octo", [REPO_NAME], installation_id=INSTALLATION)
    github.add_issue(REPO_NAME, "Hello is misspelt", "It says Helo.", author="alice")


async def labeled(
    github: GitHubSimulator, *, by: str = "alice", label: str = "patchbot"
) -> dict[str, Any]:
    """The `issues`/`labeled` payload of `by` adding `label` to the issue (nothing is sent)."""
    return await github.payload("issues", "labeled", REPO_NAME, sender=by, issue=ISSUE, label=label)
