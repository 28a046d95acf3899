"""The verdict as reviewers read it: grouped per test, with counts, evidence and findings."""

from __future__ import annotations

from bot.sandbox.models import Outcome, TestCase, TestReport
from bot.solve.finding import Finding
from bot.solve.verdict_text import verdict_markdown
from bot.solve.verify import Runs, VerifyConfig, judge

P, F, E = Outcome.PASSED, Outcome.FAILED, Outcome.ERROR


def report(**outcomes: Outcome) -> TestReport:
    cases = [TestCase(id=name, outcome=outcome) for name, outcome in outcomes.items()]
    return TestReport(command="pytest", exit_code=1, duration=1.0, cases=cases)


def test_each_group_is_counted_with_its_evidence() -> None:
    runs = Runs(
        baseline=report(old=P, bug=F, shaky=P),
        candidate=report(old=P, bug=P, shaky=F, new=P, vacuous=P),
        tests_only=report(new=F, vacuous=P),
        flaky={"shaky": [F, P, F]},
    )
    verification = judge(runs, VerifyConfig())
    verification.findings = [
        Finding(kind="skip", path="tests/t.py", line=4, what="adds a skip marker", held=True)
    ]
    text = verdict_markdown(verification)
    assert "| proven by failing first | 1 | `new` (failed without the fix) |" in text
    assert "| fixed (base's tests on the fix) | 1 | `bug` |" in text
    assert "| new, but passes without the fix | 1 | `vacuous` |" in text
    assert "| flaky | 1 | `shaky` (reruns: failed, passed, failed) |" in text
    assert "| still passing | 1 | |" in text and "| broken |" not in text
    assert "- without the fix: 1 passed, 1 failed" in text
    assert "- **held**: tests/t.py:4: adds a skip marker" in text
