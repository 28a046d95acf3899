"""The agent's stop reasons are its own; a solve run's outcome carries the ones that end it."""

import pytest

from bot.agent.stops import StopReason
from bot.solve.outcome import SolveOutcome


def test_every_stop_but_finishing_is_an_outcome_of_the_same_name() -> None:
    for reason in StopReason:
        if reason is StopReason.FINISHED:
            with pytest.raises(ValueError, match="verification"):
                SolveOutcome.of_agent(reason)
        else:
            assert SolveOutcome.of_agent(reason).value == reason.value


def test_only_verification_decides_the_outcomes_of_a_finished_agent() -> None:
    agent = {reason.value for reason in StopReason}
    own = {outcome.value for outcome in SolveOutcome} - agent
    assert own == {"verified", "rejected", "setup_failed", "sandbox_error"}
