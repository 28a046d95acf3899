"""The per-test classifier and the acceptance rule."""

from __future__ import annotations

import pytest

from bot.sandbox.models import Outcome, TestCase, TestReport
from bot.solve.verify import Change, Runs, VerifyConfig, classify, feedback, judge

P, F, E, S = Outcome.PASSED, Outcome.FAILED, Outcome.ERROR, Outcome.SKIPPED


def report(timed_out: bool = False, **outcomes: Outcome) -> TestReport:
    cases = [TestCase(id=name, outcome=outcome) for name, outcome in outcomes.items()]
    return TestReport(command="pytest", exit_code=1, duration=1.0, timed_out=timed_out, cases=cases)


@pytest.mark.parametrize(
    ("before", "after", "change"),
    [
        (F, P, Change.FIXED),
        (E, P, Change.FIXED),
        (P, F, Change.BROKEN),
        (P, E, Change.BROKEN),
        (P, S, Change.BROKEN),  # skipping a passing test is no way to make it green
        (F, F, Change.STILL_FAILING),
        (F, S, Change.STILL_FAILING),
        (P, P, Change.STILL_PASSING),
        (None, P, Change.PASSES_WITHOUT_FIX),  # no run without the fix: it proves nothing
        (S, P, Change.PASSES_WITHOUT_FIX),
        (None, F, Change.NEW_FAILING),
        (P, None, Change.REMOVED),
        (None, S, Change.SKIPPED),
    ],
)
def test_each_pair_of_outcomes_has_one_meaning(
    before: Outcome | None, after: Outcome | None, change: Change
) -> None:
    baseline = report(**({"t": before} if before else {}))
    candidate = report(**({"t": after} if after else {}))
    assert [item.change for item in classify(Runs(baseline=baseline, candidate=candidate))] == [
        change
    ]


def test_a_fixed_test_with_nothing_broken_is_accepted() -> None:
    verdict = judge(Runs(baseline=report(a=P, b=F), candidate=report(a=P, b=P)), VerifyConfig())
    assert verdict.accepted and verdict.reason.startswith(
        "accepted: 0 proven by failing first, 1 fixed"
    )


def test_a_broken_test_rejects_even_with_fixes() -> None:
    verdict = judge(Runs(baseline=report(a=P, b=F), candidate=report(a=F, b=P)), VerifyConfig())
    assert not verdict.accepted
    assert verdict.reason == "rejected: 1 broken test(s): a"
    assert "broken: a" in feedback(verdict)


def test_without_a_fixed_or_new_passing_test_nothing_is_proven() -> None:
    baseline, candidate = report(a=P, b=F), report(a=P, b=F, c=F)
    verdict = judge(Runs(baseline=baseline, candidate=candidate), VerifyConfig())
    assert "no test failed without the fix and passes with it" in verdict.reason
    relaxed = VerifyConfig(require_improvement=False)
    assert judge(Runs(baseline=baseline, candidate=candidate), relaxed).accepted


def test_removed_tests_reject_unless_allowed() -> None:
    baseline, candidate = report(a=P, b=F), report(b=P)
    assert (
        "are gone: a" in judge(Runs(baseline=baseline, candidate=candidate), VerifyConfig()).reason
    )
    assert judge(
        Runs(baseline=baseline, candidate=candidate), VerifyConfig(allow_removed_tests=True)
    ).accepted


def test_a_suite_that_timed_out_or_reported_nothing_rejects() -> None:
    assert (
        "timed out"
        in judge(Runs(baseline=report(a=F), candidate=report(True, a=P)), VerifyConfig()).reason
    )
    assert (
        "reported no tests"
        in judge(Runs(baseline=report(a=F), candidate=report()), VerifyConfig()).reason
    )


def test_a_new_test_proves_the_fix_only_if_it_fails_without_it() -> None:
    baseline, candidate = report(a=P), report(a=P, new=P, vacuous=P)
    without_fix = report(new=F, vacuous=P)
    runs = Runs(baseline=baseline, candidate=candidate, tests_only=without_fix)
    verdict = judge(runs, VerifyConfig())
    assert verdict.accepted and verdict.ids(Change.PROVEN) == ["new"]
    assert verdict.ids(Change.PASSES_WITHOUT_FIX) == ["vacuous"]
    vacuous_only = Runs(baseline=baseline, candidate=report(a=P, vacuous=P), tests_only=without_fix)
    assert (
        "1 new test(s) pass without the fix: vacuous" in judge(vacuous_only, VerifyConfig()).reason
    )


def test_an_existing_test_changed_to_fail_without_the_fix_proves_it() -> None:
    """Fixes often change a test in place: its old version passed on the base, its new one
    fails there (with only the test changes) and passes with the fix."""
    baseline, candidate = report(changed=P, same=P), report(changed=P, same=P)
    runs = Runs(baseline=baseline, candidate=candidate, tests_only=report(changed=F, same=P))
    verdict = judge(runs, VerifyConfig())
    assert verdict.accepted and verdict.ids(Change.PROVEN) == ["changed"]
    assert verdict.ids(Change.STILL_PASSING) == ["same"]
    unproven = Runs(baseline=baseline, candidate=candidate, tests_only=report(changed=P, same=P))
    assert not judge(unproven, VerifyConfig()).accepted


def test_a_module_that_cannot_import_without_the_fix_counts_as_failing() -> None:
    without_fix = report(**{"tests/test_new.py": E})
    runs = Runs(
        baseline=report(a=P),
        candidate=report(a=P, **{"tests/test_new.py::t": P}),
        tests_only=without_fix,
    )
    verdict = judge(runs, VerifyConfig())
    assert verdict.accepted
    [proven] = [item for item in verdict.changes if item.change is Change.PROVEN]
    assert "fails to import without the fix" in proven.note


def test_a_baseline_failure_counts_as_fixed_only_if_the_base_tests_pass_on_the_fix() -> None:
    baseline, candidate = report(a=P, b=F), report(a=P, b=P)
    bent = Runs(baseline=baseline, candidate=candidate, source_only=report(b=F))
    verdict = judge(bent, VerifyConfig())
    assert not verdict.accepted and verdict.ids(Change.GREEN_BY_TEST_EDIT) == ["b"]
    honest = Runs(baseline=baseline, candidate=candidate, source_only=report(b=P))
    assert judge(honest, VerifyConfig()).ids(Change.FIXED) == ["b"]


def test_a_flaky_test_is_neither_fixed_nor_broken() -> None:
    runs = Runs(
        baseline=report(a=P, b=F), candidate=report(a=F, b=P), flaky={"a": [F, P, P], "b": [F, P]}
    )
    verdict = judge(runs, VerifyConfig())
    assert verdict.ids(Change.FLAKY) == ["a", "b"] and not verdict.accepted
    assert "flaky" in verdict.reason and verdict.changes[0].note == "reruns: failed, passed, passed"


def test_a_run_the_judge_cannot_trust_rejects() -> None:
    candidate = report(a=P, b=P)
    candidate.tampered = ["pytest_runtest_makereport registered at run time by cheat"]
    verdict = judge(Runs(baseline=report(a=P, b=F), candidate=candidate), VerifyConfig())
    assert not verdict.accepted and "registered at run time by cheat" in verdict.reason
