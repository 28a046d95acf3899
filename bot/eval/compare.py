"""`patchbot eval compare A B`: what changed between two evaluations, task by task."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.console import cost_text
from bot.errors import ConfigError

TOTALS = ("tasks", "runs", "resolved", "accepted", "accepted_unresolved", "refused_resolved")


def load_results(folder: Path) -> dict[str, Any]:
    path = folder / "results.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: not an evaluation's results ({error})") from error
    return data


def _shown(text: str) -> str:
    """A value from a results file on one terminal line: nothing a terminal would act on."""
    return "".join(char if char.isprintable() else "?" for char in text)


def _verdict(row: dict[str, Any] | None) -> str:
    if row is None:
        return "not run"
    return ("accepted" if row["accepted"] else "refused") + (
        ", resolved" if row["resolved"] else ", not resolved"
    )


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Lines saying how B differs from A: its set-up, the totals, then each task that changed."""
    lines = ["what changed (A -> B):"]
    for key in ("model", "policy", "patchbot_version", "tasks_file", "attempts"):
        before, after = a["run"].get(key), b["run"].get(key)
        mark = "" if before == after else "   <- changed"
        lines.append(_shown(f"  {key}: {before} -> {after}{mark}"))
    lines.append("totals:")
    for key in TOTALS:
        change = b[key] - a[key]
        lines.append(f"  {key}: {a[key]} -> {b[key]} ({change:+d})")
    lines.append(f"  cost: {cost_text(a['cost_usd'])} -> {cost_text(b['cost_usd'])}")
    rows_a = {(row["instance_id"], row["attempt"]): row for row in a["rows"]}
    rows_b = {(row["instance_id"], row["attempt"]): row for row in b["rows"]}
    changed = []
    for run in sorted(set(rows_a) | set(rows_b)):
        was, now = _verdict(rows_a.get(run)), _verdict(rows_b.get(run))
        if was != now:
            changed.append(_shown(f"  {run[0]} #{run[1]}: {was} -> {now}"))
    same = len(set(rows_a) | set(rows_b)) - len(changed)
    lines.append(f"tasks that changed: {len(changed)} ({same} the same)")
    return lines + changed
