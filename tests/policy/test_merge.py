"""A repository's `.github/patchbot.yml` tightens the server policy and never loosens it:
field by field, through real files, and over random repository files."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.policy.load import effective_policy, load_policy_file
from bot.policy.merge import RULES, at_least_as_tight, get, leaf_keys, put
from bot.policy.model import Policy

POLICIES = Path(__file__).resolve().parents[2] / "policies"
NO_LOOSER_VALUE = {
    "paths.deny",
    "paths.approve",
    "test_command",
    "setup_command",
    "eval.tasks",
    "eval.issue",
}
"""Lists that only grow (a repository's globs are added), commands that run only in the
sandbox, and the repository's own eval file and alert issue: nothing a repository writes there
can loosen the policy."""

# (key, server overrides, repository value, effective value, refused)
CASES: list[tuple[str, dict[str, Any], Any, Any, bool]] = [
    ("trigger.min_permission", {}, "maintain", "maintain", False),
    ("trigger.min_permission", {}, "read", "write", True),
    ("trigger.labels", {}, [], [], False),
    ("trigger.labels", {}, ["PatchBot", "anyone"], ["PatchBot"], True),
    ("trigger.commands", {}, ["fix"], ["fix"], False),
    ("trigger.commands", {"trigger.commands": ["fix"]}, ["fix", "retry"], ["fix"], True),
    ("trigger.exclude_bots", {"trigger.exclude_bots": False}, True, True, False),
    ("trigger.exclude_bots", {}, False, True, True),
    ("approval.min_permission", {}, "admin", "admin", False),
    ("approval.min_permission", {}, "triage", "write", True),
    ("approval.allow_requester", {"approval.allow_requester": True}, False, False, False),
    ("approval.allow_requester", {}, True, False, True),
    ("autonomy.default", {}, "draft_pr", "draft_pr", False),
    ("autonomy.default", {"autonomy.default": "comment"}, "pr", "comment", True),
    (
        "autonomy.paths",
        {"autonomy.paths": {"src/**": "draft_pr"}},
        {"src/**": "comment", "docs/**": "draft_pr"},
        {"src/**": "comment", "docs/**": "draft_pr"},
        False,
    ),
    (
        "autonomy.paths",
        {"autonomy.paths": {"src/**": "draft_pr"}},
        {"src/**": "pr", "docs/**": "comment"},
        {"src/**": "draft_pr", "docs/**": "comment"},
        True,
    ),
    ("budgets.max_steps", {}, 10, 10, False),
    ("budgets.max_steps", {}, 400, 40, True),
    ("budgets.cost_usd", {}, 0.5, 0.5, False),
    ("budgets.cost_usd", {}, 20.0, 2.0, True),
    ("budgets.wall_time", {}, 60, 60, False),
    ("budgets.wall_time", {}, 7200, 1800, True),
    ("budgets.attempts", {}, 1, 1, False),
    ("budgets.attempts", {}, 9, 3, True),
    ("budgets.daily_cost_repository_usd", {}, 5.0, 5.0, False),
    ("budgets.daily_cost_repository_usd", {}, None, 20.0, True),
    (
        "budgets.daily_cost_repository_usd",
        {"budgets.daily_cost_repository_usd": None},
        5.0,
        5.0,
        False,
    ),
    ("budgets.daily_cost_installation_usd", {}, 50.0, 50.0, False),
    ("budgets.daily_cost_installation_usd", {}, 1000.0, 100.0, True),
    ("paths.deny", {}, ["secrets/**"], [".github/patchbot.yml", "secrets/**"], False),
    ("paths.approve", {"paths.approve": ["*.lock"]}, ["docs/**"], ["*.lock", "docs/**"], False),
    ("paths.approve", {"paths.approve": ["*.lock"]}, [], ["*.lock"], False),
    ("diff.max_files", {}, 5, 5, False),
    ("diff.max_files", {}, 500, 30, True),
    ("diff.max_changed_lines", {}, 100, 100, False),
    ("diff.max_changed_lines", {}, 10**6, 1000, True),
    ("diff.over_limit", {}, "deny", "deny", False),
    ("diff.over_limit", {"diff.over_limit": "deny"}, "needs_approval", "deny", True),
    ("eval.schedule", {}, "monthly", "monthly", False),
    ("eval.schedule", {"eval.schedule": "monthly"}, "daily", "monthly", True),
    ("eval.tasks", {}, "evals/tasks.jsonl", "evals/tasks.jsonl", False),
    ("eval.max_tasks", {}, 5, 5, False),
    ("eval.max_tasks", {}, 500, 20, True),
    ("eval.budget_usd", {}, 1.0, 1.0, False),
    ("eval.budget_usd", {}, None, 5.0, True),
    ("eval.max_resolve_drop", {}, 0.05, 0.05, False),
    ("eval.max_resolve_drop", {}, 0.5, 0.1, True),
    ("eval.max_wrong_pr_rise", {"eval.max_wrong_pr_rise": 2}, 1, 1, False),
    ("eval.max_wrong_pr_rise", {}, 3, 0, True),
    ("eval.issue", {}, 7, 7, False),
    ("secrets.scan", {"secrets.scan": False}, True, True, False),
    ("secrets.scan", {}, False, True, True),
    ("secrets.high_entropy", {"secrets.high_entropy": False}, True, True, False),
    ("secrets.high_entropy", {}, False, True, True),
    ("secrets.hold_env_network", {"secrets.hold_env_network": False}, True, True, False),
    ("secrets.hold_env_network", {}, False, True, True),
    ("sandbox.images", {"sandbox.images": ["python", "node"]}, ["python"], ["python"], False),
    ("sandbox.images", {}, ["python", "node"], ["python"], True),
    ("sandbox.image", {"sandbox.images": ["python", "node"]}, "node", "node", False),
    ("sandbox.image", {}, "node", "python", True),
    ("sandbox.setup_network", {}, False, False, False),
    ("sandbox.setup_network", {"sandbox.setup_network": False}, True, False, True),
    ("sandbox.memory_mb", {}, 512, 512, False),
    ("sandbox.memory_mb", {}, 65536, 2048, True),
    ("sandbox.pids_limit", {}, 64, 64, False),
    ("sandbox.pids_limit", {}, 4096, 512, True),
    ("sandbox.cpus", {}, 0.5, 0.5, False),
    ("sandbox.cpus", {}, 16.0, 2.0, True),
    ("sandbox.setup_timeout", {}, 60, 60, False),
    ("sandbox.setup_timeout", {}, 9000, 900, True),
    ("sandbox.test_timeout", {}, 60, 60, False),
    ("sandbox.test_timeout", {}, 6000, 600, True),
    ("sandbox.exec_timeout", {}, 30, 30, False),
    ("sandbox.exec_timeout", {}, 1200, 120, True),
    ("revisions.enabled", {}, False, False, False),
    ("revisions.enabled", {"revisions.enabled": False}, True, False, True),
    ("revisions.max_revisions", {}, 3, 3, False),
    ("revisions.max_revisions", {}, 11, 10, True),
    ("revisions.ci_repair", {}, False, False, False),
    ("revisions.ci_repair", {"revisions.ci_repair": False}, True, False, True),
    ("revisions.max_ci_repairs", {}, 0, 0, False),
    ("revisions.max_ci_repairs", {}, 5, 2, True),
    ("verification.hold_integrity", {"verification.hold_integrity": False}, True, True, False),
    ("verification.hold_integrity", {}, False, True, True),
    ("verification.reruns", {}, 0, 0, False),
    ("verification.reruns", {}, 3, 2, True),
    ("draft", {}, True, True, False),
    ("draft", {"draft": True}, False, True, True),
    ("test_command", {}, "make test", "make test", False),
    ("setup_command", {"setup_command": "pip install ."}, "make env", "make env", False),
]


def server_with(overrides: dict[str, Any]) -> Policy:
    data = Policy().model_dump()
    for key, value in overrides.items():
        put(data, key, value)
    return Policy.model_validate(data)


def nested(key: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node = out
    *parents, last = key.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return out


def checkout(tmp_path: Path, data: dict[str, Any]) -> Path:
    (tmp_path / ".github").mkdir(exist_ok=True)
    (tmp_path / ".github" / "patchbot.yml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return tmp_path


def test_every_setting_has_a_merge_rule():
    assert list(RULES) == leaf_keys()


def test_every_setting_is_tested_both_ways():
    taken = {key for key, _, _, _, refused in CASES if not refused}
    refused = {key for key, _, _, _, refused in CASES if refused}
    assert taken == set(RULES)
    assert refused == set(RULES) - NO_LOOSER_VALUE


@pytest.mark.parametrize(
    ("key", "overrides", "wanted", "expected", "refused"),
    CASES,
    ids=[f"{case[0]}-{'refused' if case[4] else 'taken'}" for case in CASES],
)
def test_repository_may_tighten_but_not_loosen(tmp_path, key, overrides, wanted, expected, refused):
    server = server_with(overrides)
    merged = effective_policy(server, checkout(tmp_path, nested(key, wanted)))

    assert get(merged.policy.model_dump(), key) == expected
    assert looser_keys(merged.policy, server) == []
    assert at_least_as_tight(merged.policy, server) == []
    if refused:
        [note] = merged.notes
        assert note.key == key
        assert note.wanted == wanted
        assert key in str(note) and "kept" in str(note)
    else:
        assert merged.notes == []
    others = merged.policy.model_dump()
    for other in RULES:
        if other != key:
            assert get(others, other) == get(server.model_dump(), other), other


def test_the_same_file_twice_changes_nothing_more(tmp_path):
    wanted = {"budgets": {"cost_usd": 0.5}, "sandbox": {"setup_network": True}, "draft": True}
    server = server_with({"sandbox.setup_network": False})
    once = effective_policy(server, checkout(tmp_path, wanted))
    twice = effective_policy(once.policy, tmp_path)
    assert twice.policy == once.policy
    assert [note.key for note in twice.notes] == ["sandbox.setup_network"]


def random_value(rng: random.Random, key: str, current: Any) -> Any:
    choices: dict[str, list[Any]] = {
        "trigger.min_permission": ["read", "triage", "write", "maintain", "admin"],
        "approval.min_permission": ["read", "triage", "write", "maintain", "admin"],
        "autonomy.default": ["comment", "draft_pr", "pr"],
        "diff.over_limit": ["needs_approval", "deny"],
        "sandbox.image": ["python", "node"],
        "eval.schedule": ["daily", "weekly", "monthly", "off"],
        "eval.issue": [None, 1, 42],
        "eval.tasks": ["tasks.jsonl", ".github/patchbot-eval.jsonl"],
        "eval.budget_usd": [None, 0.5, 50.0],
    }
    pools: dict[str, list[str]] = {
        "trigger.labels": ["patchbot", "bug", "PATCHBOT", "anything"],
        "trigger.commands": ["fix", "retry"],
        "paths.deny": ["src/**", "*.cfg", ".github/patchbot.yml"],
        "paths.approve": ["*.lock", "docs/**", "setup.py"],
        "sandbox.images": ["python", "node"],
    }
    if key in choices:
        return rng.choice(choices[key])
    if key in pools:
        items = rng.sample(pools[key], rng.randint(0, len(pools[key])))
        return items or (["node"] if key == "sandbox.images" else items)
    if key == "autonomy.paths":
        globs = ["src/**", "docs/**", "**/auth/**", "**/migrations/**"]
        return {g: rng.choice(["comment", "draft_pr", "pr"]) for g in rng.sample(globs, 2)}
    if key in ("test_command", "setup_command"):
        return rng.choice([None, "make test", "true"])
    if isinstance(current, bool):
        return rng.random() < 0.5
    if isinstance(current, int):
        zero = ("revisions.max_ci_repairs", "verification.reruns", "eval.max_wrong_pr_rise")
        low = 0 if key in zero else 1
        return rng.randint(max(low, current // 4), max(low, current) * 4)
    if key.startswith("budgets.daily_cost"):
        return rng.choice([None, round(rng.uniform(0.1, 400.0), 2)])
    if key == "eval.max_resolve_drop":
        return round(rng.uniform(0.0, 1.0), 2)
    if isinstance(current, float):
        return round(rng.uniform(0.1, current * 4), 2)
    raise AssertionError(f"no generator for {key}")


PERMISSIONS = ["none", "read", "triage", "write", "maintain", "admin"]
LEVELS = ["comment", "draft_pr", "pr"]
ON_IS_TIGHT = {
    "trigger.exclude_bots",
    "secrets.scan",
    "secrets.high_entropy",
    "secrets.hold_env_network",
    "verification.hold_integrity",
    "draft",
}
OFF_IS_TIGHT = {"approval.allow_requester", "sandbox.setup_network"}
SUBSETS = {"trigger.labels", "trigger.commands", "sandbox.images"}
SUPERSETS = {"paths.deny", "paths.approve"}


def looser_keys(policy: Policy, server: Policy) -> list[str]:
    """Written apart from bot.policy.merge, so the property below checks the rules, not
    the rules against themselves."""
    mine, theirs = policy.model_dump(), server.model_dump()
    looser = []
    for key in leaf_keys():
        value, limit = get(mine, key), get(theirs, key)
        if key.endswith("min_permission"):
            ok = PERMISSIONS.index(value) >= PERMISSIONS.index(limit)
        elif key == "autonomy.default":
            ok = LEVELS.index(value) <= LEVELS.index(limit)
        elif key == "autonomy.paths":
            ok = all(LEVELS.index(value[g]) <= LEVELS.index(v) for g, v in limit.items())
        elif key == "diff.over_limit":
            ok = value == limit or value == "deny"
        elif key in ON_IS_TIGHT:
            ok = value or not limit
        elif key in OFF_IS_TIGHT:
            ok = not value or limit
        elif key in SUBSETS:
            ok = {v.lower() for v in value} <= {v.lower() for v in limit}
        elif key in SUPERSETS:
            ok = set(limit) <= set(value)
        elif key == "sandbox.image":
            ok = value in theirs["sandbox"]["images"]
        elif key == "eval.schedule":
            order = ["daily", "weekly", "monthly", "off"]
            ok = order.index(value) >= order.index(limit)
        elif key in ("test_command", "setup_command", "eval.tasks", "eval.issue"):
            ok = True
        else:  # a number; None is no limit
            ok = limit is None or (value is not None and value <= limit)
        if not ok:
            looser.append(key)
    return looser


@pytest.mark.parametrize("server_file", ["default.yml", "strict.yml"])
def test_random_repository_files_never_loosen_the_server_policy(tmp_path, server_file):
    server = load_policy_file(POLICIES / server_file)
    base = server.model_dump()
    rng = random.Random(server_file)
    for trial in range(150):
        keys = rng.sample(list(RULES), rng.randint(1, 8))
        data: dict[str, Any] = {}
        for key in keys:
            value = random_value(rng, key, get(base, key))
            section = data
            *parents, last = key.split(".")
            for part in parents:
                section = section.setdefault(part, {})
            section[last] = value
        merged = effective_policy(server, checkout(tmp_path, data))
        assert looser_keys(merged.policy, server) == [], (trial, data)
        assert at_least_as_tight(merged.policy, server) == [], (trial, data)
        assert {note.key for note in merged.notes} <= set(keys), (trial, data)


def test_a_bare_off_turns_evaluations_off_though_yaml_reads_it_as_false(tmp_path):
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "patchbot.yml").write_text("eval:\n  schedule: off\n")
    merged = effective_policy(load_policy_file(POLICIES / "default.yml"), tmp_path)
    assert merged.policy.eval.schedule == "off" and merged.notes == []
