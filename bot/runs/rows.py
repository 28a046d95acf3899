"""Rows of the store's tables to and from the records of `bot.runs.models`."""

from __future__ import annotations

import json
import time
from typing import Any

from bot.runs.facts import CycleTimeBaseline, RunFacts
from bot.runs.models import (
    Delivery,
    Feedback,
    Hold,
    Installation,
    NewFeedback,
    NewRun,
    PullOpened,
    PullOutcome,
    Run,
)
from bot.runs.sql import Row


def run_from_row(row: Row) -> Run:
    data = dict(row)
    data["trigger"] = data.pop("trigger_kind")
    data["cancel_requested"] = bool(data["cancel_requested"])
    return Run.model_validate(data)


def feedback_from_row(row: Row) -> Feedback:
    return Feedback.model_validate(row)


def hold_from_row(row: Row) -> Hold:
    return Hold.model_validate(row)


def outcome_from_row(row: Row) -> PullOutcome:
    data = dict(row)
    files = data.pop("changed_files", None)
    return PullOutcome.model_validate({**data, "changed_files": _json_list(files)})


def _json_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    found = json.loads(text)
    return [str(item) for item in found] if isinstance(found, list) else None


def opened_values(opened: PullOpened) -> dict[str, Any]:
    """The parameters of a first run's new pull request, with the files it changed."""
    return {**vars(opened), "changed_files": json.dumps(opened.files)}


def run_and_facts_from_row(row: Row) -> tuple[Run, RunFacts | None]:
    """A run and its kept facts (None when none were kept) from a row whose facts columns
    are named `facts_*`."""
    data = dict(row)
    facts = {key[6:]: data.pop(key) for key in list(data) if key.startswith("facts_")}
    run = run_from_row(data)
    if facts.pop("recorded_at") is None:
        return run, None
    paths = facts.pop("autonomy_paths")
    if not any(facts.values()) and paths in (None, "{}"):
        return run, RunFacts()  # most runs: nothing to say, no validation to pay for
    return run, RunFacts.model_validate({**facts, "autonomy_paths": json.loads(paths or "{}")})


def facts_values(run_id: int, facts: RunFacts) -> dict[str, Any]:
    """The parameters of a run's `run_facts` row, recorded now."""
    return {
        **vars(facts),
        "run_id": run_id,
        "autonomy_paths": json.dumps(facts.autonomy_paths),
        "recorded_at": time.time(),
    }


def baseline_from_row(row: Row) -> CycleTimeBaseline:
    return CycleTimeBaseline.model_validate(row)


def closed_outcome_values(outcome: PullOutcome) -> dict[str, Any]:
    """The parameters of a merged or closed pull request's row, updated now."""
    return {**vars(outcome), "updated_at": time.time()}


def delivery_from_row(row: Row) -> Delivery:
    return Delivery.model_validate(row)


def installation_from_row(row: Row) -> Installation:
    data = dict(row)
    data["repositories"] = json.loads(data["repositories"])
    data["suspended"] = bool(data["suspended"])
    return Installation.model_validate(data)


def new_run_values(new: NewRun) -> dict[str, Any]:
    """The parameters of a new run's row."""
    return {**vars(new), "trigger_kind": new.trigger}


def new_feedback_values(item: NewFeedback) -> dict[str, Any]:
    """The parameters of an item of feedback's row, received now."""
    return {**vars(item), "received_at": time.time()}


def delivery_values(delivery: Delivery) -> dict[str, Any]:
    """The parameters of a delivery's row."""
    return vars(delivery)


def installation_values(installation: Installation) -> dict[str, Any]:
    """The parameters of an installation's row, updated now."""
    return {
        **vars(installation),
        "repositories": json.dumps(installation.repositories),
        "suspended": int(installation.suspended),
        "updated_at": time.time(),
    }
