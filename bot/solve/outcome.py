"""What came of a solve run: one outcome, the agent's own stop reasons among them."""

from __future__ import annotations

from enum import StrEnum

from bot.agent.stops import StopReason


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
