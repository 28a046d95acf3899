"""Why an agent run stops: exceptions carrying their data, caught in one place by the loop."""

from __future__ import annotations

from enum import StrEnum

from bot.errors import PatchbotError


class StopReason(StrEnum):
    """Why the agent loop stopped (what came of the whole solve run is `SolveOutcome`)."""

    FINISHED = "finished"
    """The agent called `finish`: its candidate goes to verification."""
    STEP_LIMIT = "step_limit"
    COST_LIMIT = "cost_limit"
    TIME_LIMIT = "time_limit"
    MODEL_ERROR = "model_error"


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
