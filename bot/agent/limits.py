"""When a run stops even though the agent has not finished, and what a policy sets of it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from bot.policy.decisions import Usage
from bot.policy.model import Policy


class AgentLimits(BaseModel):
    """When a run stops even though the agent has not finished."""

    max_steps: int = Field(default=40, ge=1)
    """Most model calls in one run, across all attempts."""
    cost_limit: float = Field(default=2.0, ge=0)
    """Stop before the next model call once the run has cost this many US dollars; 0 = none.
    Not enforceable for a model without a price in litellm's table (the report says so)."""
    time_limit: float = Field(default=1800.0, gt=0)
    """Seconds of wall time from the agent's first step on, verification included."""


MIN_COST_LIMIT = 0.0001
"""AgentLimits reads a cost limit of 0 as none: a run with no money left gets this instead
(the start gate should have refused it anyway)."""


def agent_limits(policy: Policy, usage: Usage | None = None) -> AgentLimits:
    """The per-run budgets, with the cost limit lowered to what is left of today's caps."""
    usage = usage or Usage()
    budgets = policy.budgets
    cost = budgets.cost_usd
    for cap, spent in (
        (budgets.daily_cost_repository_usd, usage.repository_spent_today_usd),
        (budgets.daily_cost_installation_usd, usage.installation_spent_today_usd),
    ):
        if cap is not None:
            cost = min(cost, cap - spent)
    return AgentLimits(
        max_steps=budgets.max_steps,
        cost_limit=max(cost, MIN_COST_LIMIT),
        time_limit=budgets.wall_time,
    )
