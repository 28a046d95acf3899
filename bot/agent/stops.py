"""Why an agent run stops: exceptions carrying their data, caught in one place by the loop."""

from __future__ import annotations

from enum import StrEnum

from bot.errors import PatchbotError


class StopReason(StrEnum):
    """The one reason a run ended."""

    FINISHED = "finished"
    """The agent called `finish` (what verification then said is a separate reason)."""
    VERIFIED = "verified"
    """The agent finished and verification accepted its patch."""
    REJECTED = "rejected"
    """The agent finished, but verification rejected its last patch and no attempts are left."""
    STEP_LIMIT = "step_limit"
    COST_LIMIT = "cost_limit"
    TIME_LIMIT = "time_limit"
    MODEL_ERROR = "model_error"
    SANDBOX_ERROR = "sandbox_error"
    """The sandbox broke during the run (e.g. a command killed its exec server)."""
    SETUP_FAILED = "setup_failed"
    """The repository's tests could not be set up or run on the base commit."""


class AgentStop(PatchbotError):
    """Ends the agent loop; carries why."""


class Submitted(AgentStop):
    """The model called `finish`."""

    def __init__(self, summary: str, call_id: str) -> None:
        super().__init__(f"finished: {summary}")
        self.summary = summary
        self.call_id = call_id


class LimitReached(AgentStop):
    """A limit of the run (steps, cost, wall time) was reached."""

    def __init__(self, reason: StopReason, limit: float, value: float) -> None:
        what = {
            StopReason.STEP_LIMIT: f"step limit reached ({value:g} of {limit:g} steps)",
            StopReason.COST_LIMIT: f"cost limit reached (${value:.4f} of ${limit:.4f})",
            StopReason.TIME_LIMIT: f"time limit reached ({value:.0f} s of {limit:.0f} s)",
        }[reason]
        super().__init__(what)
        self.reason = reason
        self.limit = limit
        self.value = value


class ModelFailed(AgentStop):
    """The model could not be called (after retries, where retrying made sense)."""
