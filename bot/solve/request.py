"""What one solve run is asked to do, and with what."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from bot.agent.limits import AgentLimits
from bot.agent.model import ModelConfig
from bot.agent.tools import ToolConfig
from bot.sandbox.config import SandboxConfig
from bot.solve.verify import VerifyConfig


class SolveRequest(BaseModel):
    """Everything one solve run needs to know."""

    repo: Path
    """A local git repository; its HEAD commit is the base. It is never modified."""
    issue_title: str
    issue_body: str = ""
    instructions: str = ""
    """Extra words from a maintainer (`/patchbot fix <instructions>`); untrusted like the issue."""
    baseline_commit: str | None = None
    """Run the baseline on this commit (an ancestor of HEAD) instead of HEAD: for a merge with
    unresolved conflicts, the pull request's head, whose tests say what must keep passing."""
    revision: str = ""
    """For a revision of Patchbot's pull request: its diff so far and the numbered feedback to
    address (reviews, line comments, failing checks); untrusted like the issue."""
    model: ModelConfig
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    limits: AgentLimits = Field(default_factory=AgentLimits)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    tools: ToolConfig = Field(default_factory=ToolConfig)
    work_dir: Path | None = None
    """Folder for the run's checkouts (default: the system's temporary folder)."""
    known_flaky: dict[str, list[str]] = Field(default_factory=dict)
    """Tests earlier runs saw flaky in this repository (id -> outcomes of their reruns): never
    counted as fixed, broken or proven."""
