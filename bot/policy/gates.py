"""Gates: named rules over typed inputs, each giving a Decision (allow, needs approval, deny,
and why). Pure functions: the pipeline gathers the inputs, calls them, writes the decisions
to the trace and shows them in the pull request body or the escalation comment."""

from __future__ import annotations

from bot.policy.decisions import (
    Decision,
    GateReport,
    SandboxUsed,
    TriggerRequest,
    Usage,
    Verified,
)
from bot.policy.diff import ChangedFile, parse_diff
from bot.policy.env_network import Existing, env_network_gate
from bot.policy.globs import first_match
from bot.policy.model import Autonomy, Policy, autonomy_rank
from bot.policy.secrets_scan import scan_files
from bot.settings import permission_at_least

SHOWN_PATHS = 5
"""Paths named in one reason; the rest are counted."""


def _listed(paths: list[str]) -> str:
    shown = ", ".join(f"`{p}`" for p in paths[:SHOWN_PATHS])
    more = len(paths) - SHOWN_PATHS
    return shown + (f" and {more} more" if more > 0 else "")


def trigger_gate(policy: Policy, request: TriggerRequest) -> Decision:
    """May this person start a run this way?"""
    rules = policy.trigger

    def deny(reason: str) -> Decision:
        return Decision(gate="trigger", verdict="deny", reason=reason)

    if request.is_bot and rules.exclude_bots:
        return deny(f"{request.sender} is a bot; bots never start runs")
    if request.label is not None:
        if request.label.lower() not in {label.lower() for label in rules.labels}:
            return deny(f"label `{request.label}` does not start runs here")
        how = f"label `{request.label}`"
    elif request.command is not None:
        if request.command.lower() not in rules.commands:
            return deny(f"command `{request.command}` does not start runs here")
        how = f"command `{request.command}`"
    else:
        return deny("neither a trigger label nor a command")
    if not permission_at_least(request.permission, rules.min_permission):
        return deny(
            f"{request.sender} has `{request.permission}` access; "
            f"starting a run needs `{rules.min_permission}`"
        )
    return Decision(
        gate="trigger",
        verdict="allow",
        reason=f"{request.sender} (`{request.permission}`) asked with the {how}",
    )


def approver_gate(policy: Policy, approver: TriggerRequest, requester: str) -> Decision:
    """May `approver` answer `/patchbot approve` or `reject` on a run `requester` started?"""
    rules = policy.approval
    name = approver.sender
    if approver.is_bot:
        return Decision(gate="approval", verdict="deny", reason=f"{name} is a bot")
    if name.lower() == requester.lower() and not rules.allow_requester:
        return Decision(
            gate="approval",
            verdict="deny",
            reason=f"{name} started this run; someone else must approve it "
            "(`approval.allow_requester`)",
        )
    if not permission_at_least(approver.permission, rules.min_permission):
        return Decision(
            gate="approval",
            verdict="deny",
            reason=f"{name} has `{approver.permission}` access; approving needs "
            f"`{rules.min_permission}`",
        )
    return Decision(
        gate="approval", verdict="allow", reason=f"{name} (`{approver.permission}`) may decide"
    )


def autonomy_for(policy: Policy, files: list[ChangedFile]) -> tuple[Autonomy, str]:
    """The most a run with these changed files may do, and what set it."""
    level, why = policy.autonomy.default, "the policy's default"
    for file in files:
        for path in file.paths:
            for glob, rule in policy.autonomy.paths.items():
                if autonomy_rank(rule) < autonomy_rank(level) and first_match(path, [glob]):
                    level, why = rule, f"`{path}` matches `{glob}`"
    if policy.draft and level == "pr":
        level, why = "draft_pr", "the policy asks for drafts"
    return level, why


def autonomy_gate(policy: Policy, files: list[ChangedFile]) -> Decision:
    level, why = autonomy_for(policy, files)
    does = {
        "pr": "may open a pull request",
        "draft_pr": "may open a draft pull request only",
        "comment": "may only post the patch in a comment (no branch)",
    }[level]
    return Decision(gate="autonomy", verdict="allow", reason=f"{does}: {why}")


def budget_gate(policy: Policy, usage: Usage, *, starting: bool = False) -> Decision:
    """Starting: deny when a daily cap has no room left. Otherwise (on the final diff): a run
    that went over a budget needs a human's approval before its patch is pushed."""
    budgets = policy.budgets
    caps = (
        ("repository", budgets.daily_cost_repository_usd, usage.repository_spent_today_usd),
        ("installation", budgets.daily_cost_installation_usd, usage.installation_spent_today_usd),
    )
    over: list[str] = []
    for scope, cap, spent in caps:
        if cap is None:
            continue
        if starting and spent >= cap:
            return Decision(
                gate="budgets",
                verdict="deny",
                reason=f"the {scope}'s daily cost cap is used up: ${spent:.2f} of ${cap:.2f} "
                f"today (`budgets.daily_cost_{scope}_usd`)",
            )
        if usage.cost_usd is not None and spent + usage.cost_usd > cap:
            over.append(f"{scope} daily cost ${spent + usage.cost_usd:.2f} > ${cap:.2f}")
    checks = (
        ("steps", usage.steps, budgets.max_steps),
        ("cost", usage.cost_usd, budgets.cost_usd),
        ("wall time (s)", usage.wall_time, budgets.wall_time),
        ("attempts", usage.attempts, budgets.attempts),
    )
    over += [
        f"{name} {used:g} > {limit:g}"
        for name, used, limit in checks
        if used is not None and used > limit
    ]
    if over:
        return Decision(
            gate="budgets", verdict="needs_approval", reason="over budget: " + "; ".join(over)
        )
    budget = f"${budgets.cost_usd:.2f}"
    cost = (
        f"cost unknown (budget {budget})"
        if usage.cost_usd is None
        else f"${usage.cost_usd:.2f}/{budget}"
    )
    return Decision(
        gate="budgets",
        verdict="allow",
        reason=f"{usage.steps}/{budgets.max_steps} steps, {cost}, "
        f"{usage.wall_time:.0f}/{budgets.wall_time:.0f} s, "
        f"{usage.attempts}/{budgets.attempts} attempts",
    )


def paths_gate(policy: Policy, files: list[ChangedFile]) -> Decision:
    """Denied globs stop the push; approval globs hold it for a human."""
    denied: list[str] = []
    held: list[str] = []
    for file in files:
        for path in file.paths:
            if glob := first_match(path, policy.paths.deny):
                denied.append(f"{path} ({glob})")
            elif glob := first_match(path, policy.paths.approve):
                held.append(f"{path} ({glob})")
        if file.mode == "120000":
            held.append(f"{file.path} (a symbolic link)")
    if denied:
        return Decision(
            gate="paths",
            verdict="deny",
            reason=f"changes files it may never change: {_listed(denied)}",
        )
    if held:
        return Decision(
            gate="paths",
            verdict="needs_approval",
            reason=f"changes files that need approval: {_listed(held)}",
        )
    return Decision(gate="paths", verdict="allow", reason=f"{len(files)} files, none protected")


def diff_size_gate(policy: Policy, files: list[ChangedFile]) -> Decision:
    limits = policy.diff
    lines = sum(file.added + file.removed for file in files)
    size = f"{len(files)} files, {lines} changed lines"
    over = []
    if len(files) > limits.max_files:
        over.append(f"more than {limits.max_files} files")
    if lines > limits.max_changed_lines:
        over.append(f"more than {limits.max_changed_lines} changed lines")
    if over:
        return Decision(
            gate="diff_size", verdict=limits.over_limit, reason=f"{size}: {', '.join(over)}"
        )
    return Decision(gate="diff_size", verdict="allow", reason=size)


def secrets_gate(policy: Policy, files: list[ChangedFile]) -> Decision:
    """A credential on an added line denies; one on a removed line, or a binary file (which
    cannot be scanned), needs a human. Reasons name places, never values."""
    if not policy.secrets.scan:
        return Decision(
            gate="secrets", verdict="allow", reason="scanning is off in the server policy"
        )
    found = scan_files(files, high_entropy=policy.secrets.high_entropy)
    added = [str(f) for f in found if not f.removed]
    removed = [str(f) for f in found if f.removed]
    if added:
        return Decision(
            gate="secrets", verdict="deny", reason=f"possible credential: {_listed(added)}"
        )
    binary = [f.path for f in files if f.binary and f.status != "deleted"]
    if removed or binary:
        reasons = []
        if removed:
            reasons.append(
                "removes a possible credential (it stays in the history: rotate it): "
                + _listed(removed)
            )
        if binary:
            reasons.append(f"binary files cannot be scanned: {_listed(binary)}")
        return Decision(gate="secrets", verdict="needs_approval", reason="; ".join(reasons))
    return Decision(gate="secrets", verdict="allow", reason="no credential found")


def sandbox_gate(policy: Policy, used: SandboxUsed | None) -> Decision:
    """Did the sandbox the run got stay within the policy? Anything looser, or not knowing
    what it got, denies."""
    if used is None:
        return Decision(gate="sandbox", verdict="deny", reason="the run's sandbox is not known")
    want = policy.sandbox
    looser = [
        f"{name} {getattr(used, name)} > {getattr(want, name)}"
        for name in (
            "memory_mb",
            "pids_limit",
            "cpus",
            "setup_timeout",
            "test_timeout",
            "exec_timeout",
        )
        if getattr(used, name) > getattr(want, name)
    ]
    if used.setup_network and not want.setup_network:
        looser.append("set-up had the network, which the policy forbids")
    if used.image not in (want.image, *want.images):
        looser.append(f"image `{used.image}`, not one of the policy's")
    if looser:
        return Decision(gate="sandbox", verdict="deny", reason="; ".join(looser))
    network = "with" if used.setup_network else "without"
    return Decision(
        gate="sandbox",
        verdict="allow",
        reason=f"image `{used.image}`, set-up {network} network, {used.memory_mb} MiB, "
        f"{used.pids_limit} pids, {used.cpus:g} CPUs",
    )


def integrity_gate(policy: Policy, verification: Verified | None) -> Decision:
    """Did verification find what a green suite does not excuse? Held findings wait for a human."""
    held = verification.held if verification is not None else []
    if held and policy.verification.hold_integrity:
        listed = "; ".join(finding.text() for finding in held[:SHOWN_PATHS])
        more = len(held) - SHOWN_PATHS
        reason = listed + (f" and {more} more" if more > 0 else "")
        return Decision(gate="integrity", verdict="needs_approval", reason=reason)
    if held:
        return Decision(gate="integrity", verdict="allow", reason="findings shown, not held")
    return Decision(gate="integrity", verdict="allow", reason="no integrity finding")


def evaluate_start(policy: Policy, request: TriggerRequest, usage: Usage) -> GateReport:
    """Before a run starts: may this person trigger it, and is there budget left today?"""
    return GateReport(
        decisions=[trigger_gate(policy, request), budget_gate(policy, usage, starting=True)],
        autonomy=policy.autonomy.default,
    )


def evaluate_final(
    policy: Policy,
    patch: str,
    usage: Usage,
    sandbox: SandboxUsed | None,
    existing: Existing | None = None,
    verification: Verified | None = None,
) -> GateReport:
    """On the final patch (`git diff --binary` text), before anything is pushed; `existing`
    gives a changed file's content before the patch; `verification` its verdict."""
    files = parse_diff(patch)
    level, _ = autonomy_for(policy, files)
    return GateReport(
        decisions=[
            autonomy_gate(policy, files),
            budget_gate(policy, usage),
            paths_gate(policy, files),
            diff_size_gate(policy, files),
            secrets_gate(policy, files),
            env_network_gate(policy, files, existing or (lambda path: "")),
            sandbox_gate(policy, sandbox),
            integrity_gate(policy, verification),
        ],
        autonomy=level,
        files=files,
    )
