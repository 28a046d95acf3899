"""What a policy gives the solver: the agent's limits, verification attempts and the sandbox."""

from __future__ import annotations

from bot.agent.loop import AgentLimits
from bot.policy.decisions import Usage
from bot.policy.model import Policy
from bot.sandbox.config import SandboxConfig
from bot.solve.verify import VerifyConfig

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


def verify_config(policy: Policy) -> VerifyConfig:
    """Verification with the policy's attempts per run and reruns of deciding failures."""
    return VerifyConfig(max_attempts=policy.budgets.attempts, reruns=policy.verification.reruns)


def sandbox_config(policy: Policy) -> SandboxConfig:
    """The sandbox a run on this policy gets."""
    box = policy.sandbox
    return SandboxConfig(
        image=box.image,
        images=[name for name in box.images if name != box.image],
        setup_network=box.setup_network,
        setup_command=policy.setup_command,
        test_command=policy.test_command,
        setup_timeout=box.setup_timeout,
        test_timeout=box.test_timeout,
        exec_timeout=box.exec_timeout,
        memory_mb=box.memory_mb,
        pids_limit=box.pids_limit,
        cpus=box.cpus,
    )
