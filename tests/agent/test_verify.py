"""The per-test classifier and the acceptance rule."""

from __future__ import annotations

import pytest

from bot.sandbox.models import Outcome, TestCase, TestReport
from bot.solve.verify import Change, VerifyConfig, classify, feedback, judge

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
        (None, P, Change.NEW_PASSING),
        (S, P, Change.NEW_PASSING),
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
    assert [item.change for item in classify(baseline, candidate)] == [change]


def test_a_fixed_test_with_nothing_broken_is_accepted() -> None:
    verdict = judge(report(a=P, b=F), report(a=P, b=P), VerifyConfig())
    assert verdict.accepted and verdict.reason.startswith("accepted: 1 fixed")


def test_a_broken_test_rejects_even_with_fixes() -> None:
    verdict = judge(report(a=P, b=F), report(a=F, b=P), VerifyConfig())
    assert not verdict.accepted
    assert verdict.reason == "rejected: 1 broken test(s): a"
    assert "broken: a" in feedback(verdict)


def test_without_a_fixed_or_new_passing_test_nothing_is_proven() -> None:
    baseline, candidate = report(a=P, b=F), report(a=P, b=F, c=F)
    verdict = judge(baseline, candidate, VerifyConfig())
    assert "no test went from failing to passing" in verdict.reason
    relaxed = VerifyConfig(require_improvement=False)
    assert judge(baseline, candidate, relaxed).accepted


def test_removed_tests_reject_unless_allowed() -> None:
    baseline, candidate = report(a=P, b=F), report(b=P)
    assert "are gone: a" in judge(baseline, candidate, VerifyConfig()).reason
    assert judge(baseline, candidate, VerifyConfig(allow_removed_tests=True)).accepted


def test_a_suite_that_timed_out_or_reported_nothing_rejects() -> None:
    assert "timed out" in judge(report(a=F), report(True, a=P), VerifyConfig()).reason
    assert "reported no tests" in judge(report(a=F), report(), VerifyConfig()).reason
