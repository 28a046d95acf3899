"""Every KPI against values computed by hand on a store of known runs and outcomes, and the
report's renderings with untrusted text made inert."""

from __future__ import annotations

import json

import pytest

from bot.kpi.autonomy import autonomy_track
from bot.kpi.compute import Assumptions, compute_kpis
from bot.kpi.governance import audit_csv, audit_log, exceptions_review
from bot.kpi.records import KpiRecords
from bot.kpi.render import RENDERERS
from bot.runs.facts import RunFacts, policy_digest, read_facts
from bot.runs.models import Hold, PullOutcome, Run, RunState
from bot.trace import Trace

T0 = 1_700_000_000.0
EVIL = "<script>alert(1)</script> [x](http://evil.example) | @everyone"


def run(run_id: int, state: RunState, cost: float | None, **more: object) -> Run:
    fields: dict[str, object] = {
        "id": run_id,
        "repository": "octo/a",
        "issue": run_id,
        "requester": "alice",
        "trigger": "label",
        "state": state,
        "created_at": T0 + run_id * 100,
        "updated_at": T0 + run_id * 100 + 50,
        "finished_at": T0 + run_id * 100 + 50,
        "cost_usd": cost,
        **more,
    }
    return Run.model_validate(fields)


def known() -> KpiRecords:
    """Runs 1-3 opened pull requests 11-13; 4 escalated (rejected), 5 escalated (policy deny),
    6 held and approved, 7 a revision of #12, 8 in another repository with unknown cost."""
    runs = [
        run(1, RunState.SUCCEEDED, 0.10),
        run(2, RunState.SUCCEEDED, 0.20),
        run(3, RunState.SUCCEEDED, 0.30),
        run(4, RunState.ESCALATED, 0.40, summary=EVIL),
        run(5, RunState.ESCALATED, 0.00),
        run(6, RunState.AWAITING_APPROVAL, 0.50, finished_at=None),
        run(7, RunState.SUCCEEDED, 0.05, trigger="review", pull_request=12, iteration=1),
    ]
    outcomes = [
        PullOutcome(
            repository="octo/a",
            pull_request=11,
            issue=1,
            run_id=1,
            opened_at=T0 + 100 + 60,
            state="merged",
            merged_at=T0 + 100 + 3600,
            merged_by="bob",
            closed_at=T0 + 100 + 3600,
            ci_first_push="pass",
        ),
        PullOutcome(
            repository="octo/a",
            pull_request=12,
            issue=2,
            run_id=2,
            opened_at=T0 + 200 + 120,
            state="merged",
            merged_at=T0 + 200 + 7200,
            closed_at=T0 + 200 + 7200,
            ci_first_push="fail",
            reverted_at=T0 + 9000,
            revert_sha="abc1234",
        ),
        PullOutcome(
            repository="octo/a",
            pull_request=13,
            issue=3,
            run_id=3,
            opened_at=T0 + 300 + 180,
            state="closed",
            closed_at=T0 + 5000,
            closed_by=EVIL,
            human_pushes=2,
        ),
    ]
    holds = [
        Hold(
            run_id=6,
            content="{}",
            held_at=T0 + 650,
            held_by="w",
            decision="approved",
            decided_by="carol",
            decided_at=T0 + 700,
        )
    ]
    facts = {
        1: RunFacts(refused_candidates=1),
        2: RunFacts(refused_candidates=2),
        4: RunFacts(escalation_reason="rejected", refused_candidates=3),
        5: RunFacts(escalation_reason="policy deny", verdict="deny"),
    }
    return KpiRecords(runs=runs, outcomes=outcomes, holds=holds, facts=facts)


def test_every_kpi_matches_the_hand_computed_value() -> None:
    report = compute_kpis(known(), T0, T0 + 10_000, "octo/a", baseline_cycle_time_s=21600)
    assert (report.runs, report.first_runs, report.finished_first_runs) == (7, 6, 5)
    assert (report.pull_requests_opened, report.merged, report.closed_unmerged) == (3, 2, 1)
    assert report.reverted == 1
    assert report.cycle_time_to_pr_s == 120  # median of 60, 120, 180
    assert report.cycle_time_to_merge_s == (3600 + 7200) / 2
    assert report.cycle_time_reduction == pytest.approx(1 - 5400 / 21600)
    assert report.first_pass_quality == 0.5  # #11 yes; #12 had a revision round
    assert report.ci_green_first_push == 0.5  # pass on #11, fail on #12, #13 unknown
    assert report.escalation_rate == 2 / 5
    assert report.escalations_by_reason == {"policy deny": 1, "rejected": 1}
    assert report.abstention_rate == 1 / 5
    assert report.cost_per_run_usd == pytest.approx((0.1 + 0.2 + 0.3 + 0.4 + 0.0 + 0.05) / 6)
    assert report.cost_per_merged_pr_usd == pytest.approx((0.1 + 0.2 + 0.05) / 2)
    rework = report.rework_avoided
    assert (rework.refused_candidates, rework.bot_revision_rounds) == (6, 1)
    assert rework.hours_estimate == 6 * 1.0 + 1 * 0.5


def test_an_unknown_cost_stays_unknown_and_assumptions_are_configurable() -> None:
    records = known()
    records.runs.append(run(8, RunState.FAILED, None, repository="octo/b"))
    everywhere = compute_kpis(
        records, T0, T0 + 10_000, assumptions=Assumptions(hours_per_refused_candidate=2)
    )
    assert everywhere.cost_per_run_usd is None and everywhere.runs_with_unknown_cost == 1
    assert everywhere.cost_per_merged_pr_usd == pytest.approx(0.175)  # its runs are all known
    assert everywhere.rework_avoided.hours_estimate == 6 * 2 + 0.5
    empty = compute_kpis(KpiRecords(), T0, T0 + 1)
    assert (empty.cycle_time_to_pr_s, empty.escalation_rate, empty.cost_per_run_usd) == (
        None,
        None,
        None,
    )


def test_governance_views() -> None:
    records = known()
    kinds = [(e.kind, e.run_id, e.decided_by) for e in exceptions_review(records, T0, T0 + 10_000)]
    assert kinds == [
        ("escalation", 4, None),
        ("refusal", 5, None),
        ("hold", 6, None),
        ("approval", 6, "carol"),
        ("closed_unmerged", 3, EVIL),
        ("reverted", 2, None),
    ]
    actions = [(e.action, e.actor) for e in audit_log(records, "patchbot[bot]")]
    assert ("approved", "carol") in actions and ("merged", "bob") in actions
    assert actions.count(("pull_request_opened", "patchbot[bot]")) == 3
    assert ("pushed", "patchbot[bot]") in actions and ("reverted", None) in actions
    (track,) = autonomy_track(records)  # no pull request says which files it changed
    assert track.path == "*"
    assert (track.merged, track.merged_first_pass, track.reverted) == (2, 1, 1)
    assert track.suggestion == "take back"
    clean = KpiRecords(
        runs=[run(i, RunState.SUCCEEDED, 0.1) for i in range(1, 6)],
        outcomes=[
            PullOutcome(repository="octo/a", pull_request=i, issue=i, run_id=i, state="merged")
            for i in range(1, 6)
        ],
    )
    assert autonomy_track(clean)[0].suggestion == "grant more"


def test_policy_changes_are_audited_and_a_formula_is_not_exported_as_one(tmp_path) -> None:
    records = known()
    records.facts[1] = RunFacts(policy_digest=policy_digest({"draft": False}))
    records.facts[2] = RunFacts(policy_digest=policy_digest({"draft": True}))
    records.facts[3] = RunFacts(policy_digest=policy_digest({"draft": True}))
    actions = [e.action for e in audit_log(records, "patchbot[bot]")]
    assert actions.count("policy_changed") == 1
    records.outcomes[2].closed_by = "=HYPERLINK(1)"
    assert "'=HYPERLINK(1)" in audit_csv(audit_log(records, "patchbot[bot]"))


def test_facts_are_read_from_a_trace(tmp_path) -> None:
    path = tmp_path / "1.jsonl"
    with Trace(path) as trace:
        trace.event("policy", policy={"draft": False, "autonomy": {"paths": {"docs/**": "pr"}}})
        trace.event("verification", attempt=1, accepted=False, reason="no test failed first")
        trace.event("verification", attempt=2, accepted=True, reason="ok")
        trace.event("pull_request", url="u", number=3, head="abc")
        trace.event("escalated", reason="rejected", detail=EVIL)
    facts = read_facts(path)
    assert facts.refused_candidates == 1 and facts.escalation_reason == "rejected"
    assert facts.pr_opened_at is not None and facts.autonomy_paths == {"docs/**": "pr"}
    assert facts.policy_digest == policy_digest(
        {"autonomy": {"paths": {"docs/**": "pr"}}, "draft": False}
    )
    assert read_facts(tmp_path / "missing.jsonl") == RunFacts()


@pytest.mark.parametrize("form", ["md", "html"])
def test_untrusted_text_is_inert_in_markdown_and_html(form: str) -> None:
    records = known()
    report = compute_kpis(records, T0, T0 + 10_000, EVIL)
    text = RENDERERS[form](
        report, exceptions_review(records, T0, T0 + 10_000), autonomy_track(records)
    )
    assert "<script>" not in text and "<a " not in text
    if form == "md":  # no link, no table cell broken out of, no mention
        assert "](http://evil" not in text and "| @everyone" not in text
    assert "first_pass_quality" in text and "approval" in text


def test_json_names_each_kpi_in_snake_case() -> None:
    records = known()
    report = compute_kpis(records, T0, T0 + 10_000, "octo/a")
    data = json.loads(RENDERERS["json"](report, None, autonomy_track(records)))
    for name in (
        "cycle_time_to_pr_s",
        "cycle_time_to_merge_s",
        "first_pass_quality",
        "escalation_rate",
        "escalations_by_reason",
        "cost_per_run_usd",
        "cost_per_merged_pr_usd",
        "rework_avoided",
        "abstention_rate",
    ):
        assert name in data
    assert data["first_pass_quality"] == 0.5 and "exceptions" not in data
