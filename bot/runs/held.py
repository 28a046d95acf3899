"""A verified patch held for a human: what is kept while the run waits, and how it resumes.

The record lives in the store (`holds`), so an approval survives restarts and any worker can
resume the run: it pushes the kept patch on its base commit without running the agent again.
"""

from __future__ import annotations

from pydantic import BaseModel

from bot.policy.model import ApprovalPolicy, Autonomy


class HeldPatch(BaseModel):
    """Everything the pull request needs, decided before the run paused."""

    patch: str
    base_commit: str
    branch: str
    title: str
    """The pull request's title."""
    body: str
    """The pull request's body, without the approval line."""
    check_title: str
    check_summary: str
    """The before/after test table."""
    autonomy: Autonomy
    """What the run may do with the patch once approved: comment, draft_pr or pr."""
    commit_message: str
    approval: ApprovalPolicy
    """Who may approve: the run's effective policy when it paused."""
    requester: str
