"""Staged autonomy made visible: per repository, and per path within it, the track record of
Patchbot's pull requests (merged first-pass, reverted, escalated) and a suggestion for the
policy — grant more, take back, keep — that is shown to a person and never applied.

A path is the repository policy's `autonomy.paths` rule (glob) a changed file matched, as
the repository's latest run read it, or else the file's top-level folder (`src/`; `(root)`
for files at the top). A pull request counts in every path its files fall in."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from bot.kpi.compute import FIRST_RUN_TRIGGERS, first_pass, revision_runs
from bot.kpi.records import KpiRecords, by_repository
from bot.policy.globs import first_match
from bot.runs.models import PullOutcome, Run, RunState

Suggestion = Literal["grant more", "take back", "keep"]
WHOLE_REPOSITORY = "*"
ROOT = "(root)"
GRANT_AFTER = 5
"""Merged pull requests a repository (or path) needs before more autonomy is suggested."""
TAKE_BACK_AFTER = 3
"""Merges (or runs) a majority of rework (or escalations) needs before it counts."""


class AutonomyTrack(BaseModel):
    repository: str
    path: str
    """`*`: the whole repository; a policy rule's glob; a top-level folder (`src/`), `(root)`."""
    rule: bool
    """Whether `path` is the policy's `autonomy.paths` rule (else a folder with no rule)."""
    runs: int
    """Whole repository: its runs. A path: the runs (first and revisions) of the pull requests
    that changed files in it."""
    escalated: int
    """Whole repository: first runs that escalated. A path: those runs that escalated."""
    merged: int
    merged_first_pass: int
    reverted: int
    suggestion: Suggestion
    """Shown to a person; the policy is never changed on its own."""
    why: str


@dataclass
class _Tally:
    runs: list[Run] = field(default_factory=list)
    merged: list[PullOutcome] = field(default_factory=list)


def path_of(file: str, rules: list[str]) -> tuple[str, bool]:
    """The group a changed file falls in: the first rule (glob) it matches, else its
    top-level folder; and whether that is a rule."""
    glob = first_match(file, rules) if rules else None
    if glob is not None:
        return glob, True
    top, slash, _ = file.partition("/")
    return (f"{top}/", False) if slash else (ROOT, False)


def suggest(
    merged: int, clean: int, reverted: int, escalated: int, runs: int
) -> tuple[Suggestion, str]:
    """Take back after a revert, when most of at least TAKE_BACK_AFTER merges needed rework or
    most of at least TAKE_BACK_AFTER runs escalated; grant more after GRANT_AFTER merges all
    first-pass; else keep."""
    why = f"{clean} of {merged} merged first-pass, {reverted} reverted"
    if reverted or (merged >= TAKE_BACK_AFTER and clean * 2 < merged):
        return "take back", why
    if runs >= TAKE_BACK_AFTER and escalated * 2 > runs:
        return "take back", f"{escalated} of {runs} runs escalated"
    if merged >= GRANT_AFTER and clean == merged:
        return "grant more", why
    return "keep", why


def _rules(records: KpiRecords) -> list[str]:
    """The `autonomy.paths` globs of the policy the latest run of `records` read."""
    latest = [r for r in records.runs if r.id in records.facts]
    if not latest:
        return []
    run = max(latest, key=lambda r: r.created_at)
    return list(records.facts[run.id].autonomy_paths)


def autonomy_track(records: KpiRecords) -> list[AutonomyTrack]:
    """Each repository's track record (path `*`), then each of its paths', with suggestions."""
    return [
        track
        for repository, part in sorted(by_repository(records).items())
        for track in repository_track(repository, part)
    ]


def repository_track(repository: str, part: KpiRecords) -> list[AutonomyTrack]:
    """The track record of one repository's records (`part`): whole, then per path."""
    if not part.runs:
        return []  # outcomes or holds alone: no track record of runs
    runs, outcomes = part.runs, part.outcomes
    first = [r for r in runs if r.trigger in FIRST_RUN_TRIGGERS]
    revisions = revision_runs(runs)
    merged = [o for o in outcomes if o.state == "merged"]
    tracks = [_track(repository, WHOLE_REPOSITORY, False, runs, merged, revisions, first)]
    rules = _rules(part)
    by_id = {r.id: r for r in runs}
    paths: dict[tuple[str, bool], _Tally] = defaultdict(_Tally)
    for outcome in outcomes:
        pull_runs = list(revisions.get((repository, outcome.pull_request), []))
        opener = by_id.get(outcome.run_id or 0)
        pull_runs += [opener] if opener is not None else []
        for key in {path_of(file, rules) for file in outcome.changed_files or []}:
            paths[key].runs += pull_runs
            if outcome.state == "merged":
                paths[key].merged.append(outcome)
    for (path, rule), tally in sorted(paths.items()):
        tracks.append(
            _track(repository, path, rule, tally.runs, tally.merged, revisions, tally.runs)
        )
    return tracks


def _track(
    repository: str,
    path: str,
    rule: bool,
    runs: list[Run],
    merged: list[PullOutcome],
    revisions: dict[tuple[str, int], list[Run]],
    attempts: list[Run],
) -> AutonomyTrack:
    escalated = sum(1 for r in attempts if r.state is RunState.ESCALATED)
    clean = sum(1 for o in merged if first_pass(o, revisions))
    reverted = sum(1 for o in merged if o.reverted_at is not None)
    suggestion, why = suggest(len(merged), clean, reverted, escalated, len(attempts))
    return AutonomyTrack(
        repository=repository,
        path=path,
        rule=rule,
        runs=len(runs),
        escalated=escalated,
        merged=len(merged),
        merged_first_pass=clean,
        reverted=reverted,
        suggestion=suggestion,
        why=why,
    )
