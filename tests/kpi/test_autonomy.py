"""Staged autonomy per repository and path, against a track record computed by hand: paths
are the policy's autonomy rules the changed files matched (the latest run's policy), else
their top-level folder; the suggestions are the documented thresholds."""

from __future__ import annotations

from bot.kpi.autonomy import autonomy_track, path_of
from bot.kpi.records import KpiRecords
from bot.runs.facts import RunFacts
from bot.runs.models import PullOutcome, RunState
from tests.kpi.test_compute import T0, run

RULES = {"docs/**": "pr", "src/core/**": "draft_pr"}


def pull(number: int, run_id: int, files: list[str], state: str = "merged", **more: object):
    return PullOutcome.model_validate(
        {
            "repository": "octo/a",
            "pull_request": number,
            "issue": run_id,
            "run_id": run_id,
            "state": state,
            "changed_files": files,
            **more,
        }
    )


def a_track_record() -> KpiRecords:
    """#11 (run 1) src/core + README merged; #12 (run 2) src/core merged after a revision run
    (7) that escalated; #13 (run 3) docs merged then reverted; #14 (run 4) tests closed; #15-19
    (runs 5, 6, 8, 9, 10) lib merged first-pass; #20 opened before its files were recorded."""
    lib_runs = [5, 6, 8, 9, 10]
    runs = [run(i, RunState.SUCCEEDED, 0.1) for i in (1, 2, 3, 4, *lib_runs)]
    runs.append(run(7, RunState.ESCALATED, 0.1, trigger="review", pull_request=12, iteration=1))
    outcomes = [
        pull(11, 1, ["src/core/a.py", "README.md"]),
        pull(12, 2, ["src/core/b.py"]),
        pull(13, 3, ["docs/x.md"], reverted_at=T0 + 9_000, revert_sha="f" * 40),
        pull(14, 4, ["tests/t.py"], state="closed"),
        *(pull(15 + i, r, ["lib/z.py"]) for i, r in enumerate(lib_runs)),
        PullOutcome(repository="octo/a", pull_request=20, issue=20, run_id=None, state="open"),
    ]
    facts = {
        1: RunFacts(autonomy_paths={"lib/**": "comment"}),  # an older policy: not used
        10: RunFacts(autonomy_paths=RULES),
    }
    return KpiRecords(runs=runs, outcomes=outcomes, facts=facts)


def test_track_record_per_repository_and_path_matches_the_hand_computed_one() -> None:
    rows = {
        t.path: (
            t.rule,
            t.runs,
            t.escalated,
            t.merged,
            t.merged_first_pass,
            t.reverted,
            t.suggestion,
        )
        for t in autonomy_track(a_track_record())
    }
    assert rows == {
        # 10 runs, no first run escalated; 8 merged, 7 not revised, 1 reverted
        "*": (False, 10, 0, 8, 7, 1, "take back"),
        # runs 1 and 2 opened, 7 revised #12 and escalated; #12 needed a revision
        "src/core/**": (True, 3, 1, 2, 1, 0, "keep"),
        "(root)": (False, 1, 0, 1, 1, 0, "keep"),
        "docs/**": (True, 1, 0, 1, 1, 1, "take back"),
        "tests/": (False, 1, 0, 0, 0, 0, "keep"),
        "lib/": (False, 5, 0, 5, 5, 0, "grant more"),
    }


def test_most_runs_of_a_path_escalating_takes_autonomy_back() -> None:
    records = a_track_record()
    for number in (21, 22):  # two more revision runs of #12, both escalated
        records.runs.append(
            run(number, RunState.ESCALATED, 0.1, trigger="review", pull_request=12, iteration=2)
        )
    (core,) = [t for t in autonomy_track(records) if t.path == "src/core/**"]
    assert (core.runs, core.escalated, core.suggestion) == (5, 3, "take back")
    assert core.why == "3 of 5 runs escalated"


def test_a_file_falls_in_the_first_rule_it_matches_else_its_top_folder() -> None:
    assert path_of("src/core/a.py", ["src/**", "src/core/**"]) == ("src/**", True)
    assert path_of("src/x.py", []) == ("src/", False)
    assert path_of("setup.cfg", list(RULES)) == ("(root)", False)
