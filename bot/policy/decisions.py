"""What gates decide, and the inputs they decide on: typed, so the pipeline, the trace and
the approval flow agree on them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from bot.github.markdown import plain
from bot.policy.diff import ChangedFile
from bot.policy.model import Autonomy

Verdict = Literal["allow", "needs_approval", "deny"]
VERDICT_ORDER: tuple[Verdict, ...] = ("allow", "needs_approval", "deny")


class Decision(BaseModel):
    """One gate's verdict and the reason, for humans (never holds a secret)."""

    gate: str
    verdict: Verdict
    reason: str


class TriggerRequest(BaseModel):
    """Who asked for a run, and how."""

    sender: str
    permission: str
    """The sender's role on the repository (`none`, `read`, ... `admin`)."""
    is_bot: bool = False
    label: str | None = None
    """The label that was added, for a label trigger."""
    command: str | None = None
    """The slash command's name (`fix`, `retry`), for a comment trigger."""


class Usage(BaseModel):
    """What the run used so far, and what was spent today before it (the caller sums runs)."""

    steps: int = 0
    cost_usd: float | None = 0.0
    """US dollars; None when unknown (a model litellm has no price for): no cost gate applies."""
    wall_time: float = 0.0
    """Seconds since the agent's first step."""
    attempts: int = 0
    """Candidates verified."""
    repository_spent_today_usd: float = 0.0
    """Spent today by other runs on the same repository (UTC day), this run excluded."""
    installation_spent_today_usd: float = 0.0
    """Spent today by other runs of the same installation, this run excluded."""


class GateReport(BaseModel):
    """Every gate's decision on one moment of a run."""

    decisions: list[Decision]
    autonomy: Autonomy = "pr"
    """What the run may do with its patch (after `draft` is applied, `pr` becomes `draft_pr`)."""
    files: list[ChangedFile] = Field(default_factory=list, exclude=True, repr=False)

    @property
    def verdict(self) -> Verdict:
        """The strictest decision: deny > needs_approval > allow."""
        return max((d.verdict for d in self.decisions), key=VERDICT_ORDER.index, default="allow")

    def holding(self) -> list[Decision]:
        """The decisions that stop or hold the push."""
        return [d for d in self.decisions if d.verdict != "allow"]

    def reasons(self) -> str:
        """What stops or holds the push, on one line (the trace, the run's summary)."""
        return "; ".join(f"{d.gate}: {d.reason}" for d in self.holding())

    @property
    def secret_found(self) -> bool:
        """The secrets scan stopped or held the push: the patch is never shown in a comment,
        where it would repeat a credential."""
        return any(d.gate == "secrets" for d in self.holding())

    def trace_fields(self) -> dict[str, object]:
        """Keyword arguments for `trace.event("policy_gates", **fields)`."""
        return {
            "verdict": self.verdict,
            "autonomy": self.autonomy,
            "decisions": [d.model_dump() for d in self.decisions],
        }

    def markdown(self) -> str:
        """A table for the pull request body or the escalation comment."""
        icons = {"allow": "✅ allow", "needs_approval": "✋ needs approval", "deny": "⛔ deny"}
        rows = [
            f"| {d.gate} | {icons[d.verdict]} | {plain(d.reason, 500)} |" for d in self.decisions
        ]
        return "\n".join(["| gate | decision | why |", "| --- | --- | --- |", *rows])


class SandboxUsed(Protocol):
    """What a run's sandbox got, as the engine reported it (a `SandboxConfig`)."""

    image: str
    setup_network: bool
    memory_mb: int
    pids_limit: int
    cpus: float
    setup_timeout: float
    test_timeout: float
    exec_timeout: float


class HeldFinding(Protocol):
    def text(self) -> str: ...


class Verified(Protocol):
    """A verification's verdict (`bot.solve.verify.Verification`): what it holds for a human."""

    @property
    def held(self) -> Sequence[HeldFinding]: ...
