"""Merging a repository's `.github/patchbot.yml` into the server policy: it may tighten any
field, never loosen one. A loosening is not silently dropped: the server's value stays and a
note says what was refused and why, for the trace and the pull request body."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from bot.policy.model import AUTONOMY_ORDER, EVAL_SCHEDULES, Policy
from bot.settings import PERMISSION_ORDER


class MergeNote(BaseModel):
    """A repository setting that was refused because it would loosen the server policy."""

    key: str
    """Dotted key, e.g. `sandbox.setup_network`."""
    wanted: Any
    kept: Any
    why: str

    def __str__(self) -> str:
        return (
            f"`{self.key}`: the repository asked for {_show(self.wanted)}; "
            f"kept {_show(self.kept)} ({self.why})"
        )


class Merged(BaseModel):
    """The effective policy, and what the repository asked for and did not get."""

    policy: Policy
    notes: list[MergeNote]


def _show(value: Any) -> str:
    if value is None:
        return "null (no limit)"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class Rule:
    """How one field merges: `merge(server, wanted)` gives the value and, when it refused the
    repository's value, why; `tight(value, server)` says whether `value` is no looser."""

    merge: Callable[[Any, Any], tuple[Any, str | None]]
    tight: Callable[[Any, Any], bool]


def _by_tight(tight: Callable[[Any, Any], bool], why: str) -> Rule:
    def merge(server: Any, wanted: Any) -> tuple[Any, str | None]:
        return (wanted, None) if tight(wanted, server) else (server, why)

    return Rule(merge, tight)


def _lower_or_equal(value: float | None, server: float | None) -> bool:
    """None means no limit."""
    return server is None or (value is not None and value <= server)


def _ranked(order: tuple[str, ...], higher_is_tighter: bool) -> Callable[[Any, Any], bool]:
    def tight(value: Any, server: Any) -> bool:
        step = order.index(value) - order.index(server)
        return step >= 0 if higher_is_tighter else step <= 0

    return tight


def _union() -> Rule:
    def merge(server: list[str], wanted: list[str]) -> tuple[list[str], str | None]:
        return server + [item for item in wanted if item not in server], None

    return Rule(merge, lambda value, server: set(server) <= set(value))


def _subset(what: str, *, keep_one: bool = False) -> Rule:
    def merge(server: list[str], wanted: list[str]) -> tuple[list[str], str | None]:
        allowed = {item.lower() for item in server}
        kept = [item for item in wanted if item.lower() in allowed]
        if keep_one and not kept:
            return server, f"at least one of the server's {what} must stay"
        extra = [item for item in wanted if item.lower() not in allowed]
        return kept, (f"{', '.join(extra)} not among the server's {what}" if extra else None)

    def tight(value: list[str], server: list[str]) -> bool:
        return {item.lower() for item in value} <= {item.lower() for item in server}

    return Rule(merge, tight)


def _path_levels() -> Rule:
    """Globs → autonomy: a repository may add rules and lower the server's, not raise them."""

    def merge(server: dict[str, str], wanted: dict[str, str]) -> tuple[dict[str, str], str | None]:
        out = dict(server)
        raised = []
        for glob, level in wanted.items():
            if glob not in out or AUTONOMY_ORDER.index(level) <= AUTONOMY_ORDER.index(out[glob]):
                out[glob] = level
            else:
                raised.append(f"`{glob}`")
        why = f"a repository may only lower autonomy ({', '.join(raised)})" if raised else None
        return out, why

    def tight(value: dict[str, str], server: dict[str, str]) -> bool:
        return all(
            glob in value and AUTONOMY_ORDER.index(value[glob]) <= AUTONOMY_ORDER.index(level)
            for glob, level in server.items()
        )

    return Rule(merge, tight)


_ANY = Rule(lambda server, wanted: (wanted, None), lambda value, server: True)
_LOWER = _by_tight(_lower_or_equal, "a repository may only lower a limit")
_ON = _by_tight(lambda v, s: v or v == s, "a repository may turn this on, not off")
_OFF = _by_tight(lambda v, s: not v or v == s, "a repository may turn this off, not on")
_PERMISSION = _by_tight(
    _ranked(PERMISSION_ORDER, higher_is_tighter=True), "a repository may only ask for more"
)
_AUTONOMY = _by_tight(
    _ranked(AUTONOMY_ORDER, higher_is_tighter=False), "a repository may only lower autonomy"
)
_OVER_LIMIT = _by_tight(
    _ranked(("needs_approval", "deny"), higher_is_tighter=True), "`deny` is stricter"
)
_RARER = _by_tight(
    _ranked(EVAL_SCHEDULES, higher_is_tighter=True), "a repository may only make it rarer"
)
_IMAGE = Rule(lambda server, wanted: (server, None), lambda value, server: True)
"""The image is merged and checked against the merged `sandbox.images` by hand, below."""

RULES: dict[str, Rule] = {
    "trigger.min_permission": _PERMISSION,
    "trigger.labels": _subset("labels"),
    "trigger.commands": _subset("commands"),
    "trigger.exclude_bots": _ON,
    "approval.min_permission": _PERMISSION,
    "approval.allow_requester": _OFF,
    "autonomy.default": _AUTONOMY,
    "autonomy.paths": _path_levels(),
    "budgets.max_steps": _LOWER,
    "budgets.cost_usd": _LOWER,
    "budgets.wall_time": _LOWER,
    "budgets.attempts": _LOWER,
    "budgets.daily_cost_repository_usd": _LOWER,
    "budgets.daily_cost_installation_usd": _LOWER,
    "paths.deny": _union(),
    "paths.approve": _union(),
    "diff.max_files": _LOWER,
    "diff.max_changed_lines": _LOWER,
    "diff.over_limit": _OVER_LIMIT,
    "secrets.scan": _ON,
    "secrets.high_entropy": _ON,
    "secrets.hold_env_network": _ON,
    "sandbox.images": _subset("images", keep_one=True),
    "sandbox.image": _IMAGE,  # merged by hand: it must be among the merged images
    "sandbox.setup_network": _OFF,
    "sandbox.memory_mb": _LOWER,
    "sandbox.pids_limit": _LOWER,
    "sandbox.cpus": _LOWER,
    "sandbox.setup_timeout": _LOWER,
    "sandbox.test_timeout": _LOWER,
    "sandbox.exec_timeout": _LOWER,
    "revisions.enabled": _OFF,
    "revisions.max_revisions": _LOWER,
    "revisions.ci_repair": _OFF,
    "revisions.max_ci_repairs": _LOWER,
    "verification.hold_integrity": _ON,
    "verification.reruns": _LOWER,
    "eval.schedule": _RARER,
    "eval.tasks": _ANY,  # the repository's own file, read from its default branch
    "eval.max_tasks": _LOWER,
    "eval.budget_usd": _LOWER,
    "eval.max_resolve_drop": _LOWER,  # a smaller drop alerts sooner
    "eval.max_wrong_pr_rise": _LOWER,
    "eval.issue": _ANY,  # where the repository's own alerts go
    "draft": _ON,
    "test_command": _ANY,  # runs inside the sandbox only, under the sandbox's limits
    "setup_command": _ANY,
}


def leaf_keys(model: type[BaseModel] = Policy, prefix: str = "") -> list[str]:
    """Dotted names of every setting of the policy (sections are not settings)."""
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys.extend(leaf_keys(annotation, f"{prefix}{name}."))
        else:
            keys.append(f"{prefix}{name}")
    return keys


def get(data: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        data = data[part]
    return data


def put(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for part in parents:
        data = data[part]
    data[last] = value


def merge(server: Policy, wanted: Policy) -> Merged:
    """The server policy tightened by what the repository wants (`wanted` is the server
    policy with the repository's keys laid over it, see `bot.policy.load.effective_policy`)."""
    base, asked = server.model_dump(), wanted.model_dump()
    out = server.model_dump()
    notes: list[MergeNote] = []
    for key, rule in RULES.items():
        before, want = get(base, key), get(asked, key)
        if want == before:
            continue
        if key == "sandbox.image":
            images = get(out, "sandbox.images")
            value, why = (want, None) if want in images else (before, f"not in {images}")
        else:
            value, why = rule.merge(before, want)
        put(out, key, value)
        if why is not None:
            notes.append(MergeNote(key=key, wanted=want, kept=value, why=why))
    if get(out, "sandbox.image") not in get(out, "sandbox.images"):
        put(out, "sandbox.image", get(out, "sandbox.images")[0])
    return Merged(policy=Policy.model_validate(out), notes=notes)


def at_least_as_tight(policy: Policy, server: Policy) -> list[str]:
    """The keys on which `policy` is looser than `server` (empty: it is no looser anywhere)."""
    mine, theirs = policy.model_dump(), server.model_dump()
    looser = [
        key for key, rule in RULES.items() if not rule.tight(get(mine, key), get(theirs, key))
    ]
    if mine["sandbox"]["image"] not in theirs["sandbox"]["images"]:
        looser.append("sandbox.image")
    protected = set(mine["paths"]["approve"]) | set(mine["paths"]["deny"])
    if "paths.approve" in looser and set(theirs["paths"]["approve"]) <= protected:
        looser.remove("paths.approve")  # moved to `deny`: stricter still
    return looser
