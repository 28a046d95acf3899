"""What came of a solve run: its outcome (the agent's own stop reasons among them), each
attempt and its verdict, the patch."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from bot.agent.loop import AgentStats
from bot.agent.stops import StopReason
from bot.sandbox.config import SandboxConfig
from bot.sandbox.models import Outcome, TestReport
from bot.setup.model import SetupReport
from bot.solve.verify import Verification


class SolveOutcome(StrEnum):
    """How a solve run ended; only `VERIFIED` has a proven patch."""

    VERIFIED = "verified"
    """The agent finished and verification accepted its patch."""
    REJECTED = "rejected"
    """The agent finished, but verification rejected its last patch and no attempts are left."""
    SETUP_FAILED = "setup_failed"
    """The repository's tests could not be set up or run on the base commit."""
    SANDBOX_ERROR = "sandbox_error"
    """The sandbox broke during the run (e.g. a command killed its exec server)."""
    STEP_LIMIT = StopReason.STEP_LIMIT.value
    COST_LIMIT = StopReason.COST_LIMIT.value
    TIME_LIMIT = StopReason.TIME_LIMIT.value
    MODEL_ERROR = StopReason.MODEL_ERROR.value
    """The agent stopped on its own before it finished: the limits, the model."""

    @classmethod
    def of_agent(cls, reason: StopReason) -> SolveOutcome:
        """The outcome of a solve run whose agent stopped without finishing."""
        if reason is StopReason.FINISHED:
            raise ValueError("a finished agent's outcome is what verification says")
        return cls(reason.value)


class Attempt(BaseModel):
    """One candidate the agent submitted, and what verification made of it."""

    number: int
    summary: str
    patch: str
    verification: Verification | None
    """None when the patch was empty (nothing to verify)."""
    reason: str


class SolveResult(BaseModel):
    """How a solve run ended. `verified` is the only sign that `patch` is proven."""

    stop_reason: SolveOutcome
    detail: str
    """One line saying why the run stopped, for humans."""
    patch: str
    """The last candidate (or, after a limit stop, the unverified changes); may be empty."""
    summary: str = ""
    """The agent's own summary of its last candidate."""
    base_commit: str
    baseline: TestReport | None = None
    setup: SetupReport | None = None
    """How the repository was set up for the baseline: the plan's sources, each try."""
    sandbox: SandboxConfig | None = None
    """The sandbox the run got (its image chosen among those allowed); None before one opened."""
    verification: Verification | None = None
    """The verdict on the last candidate."""
    attempts: list[Attempt] = Field(default_factory=list)
    stats: AgentStats = Field(default_factory=AgentStats)
    duration: float = 0.0
    """Seconds for the whole run."""
    flaky: dict[str, list[Outcome]] = Field(default_factory=dict)
    """Tests this run saw flaky (their outcome changed between reruns), each outcome seen."""

    @property
    def verified(self) -> bool:
        return self.stop_reason is SolveOutcome.VERIFIED
