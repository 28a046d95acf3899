"""report.md: the stop reason, the numbers, and a test table that stays readable."""

from __future__ import annotations

from pathlib import Path

from bot.agent.loop import AgentStats
from bot.agent.model import ModelConfig
from bot.sandbox.models import Outcome, TestCase, TestReport
from bot.solve.outcome import SolveOutcome, SolveResult
from bot.solve.report import TABLE_ROWS, render_report
from bot.solve.request import SolveRequest
from bot.solve.verify import Runs, VerifyConfig, judge


def suite(outcomes: dict[str, Outcome]) -> TestReport:
    cases = [TestCase(id=name, outcome=outcome) for name, outcome in outcomes.items()]
    return TestReport(command="pytest", exit_code=0, duration=1.0, cases=cases)


REQUEST = SolveRequest(
    repo=Path("/repo"), issue_title="Bug | in title", model=ModelConfig(model="openai/x")
)


def test_a_big_suite_lists_what_changed_and_counts_the_rest() -> None:
    names = [f"t{n}" for n in range(200)]
    baseline = suite({name: Outcome.PASSED for name in names} | {"bug": Outcome.FAILED})
    candidate = suite({name: Outcome.PASSED for name in names} | {"bug": Outcome.PASSED})
    verification = judge(Runs(baseline=baseline, candidate=candidate), VerifyConfig())
    result = SolveResult(
        stop_reason=SolveOutcome.VERIFIED,
        detail="attempt 1 of 3 " + verification.reason,
        patch="",
        base_commit="a" * 40,
        baseline=baseline,
        verification=verification,
        stats=AgentStats(steps=3, prompt_tokens=900, completion_tokens=80, cost_usd=0.0123),
    )
    report = render_report(REQUEST, result)
    assert "| `bug` | failed | passed | fixed |" in report
    assert "| `t0` |" not in report and "200 more tests not listed (200 still passing)" in report
    assert report.count("\n| `") <= TABLE_ROWS
    assert "Bug \\| in title" in report and "$0.0123" in report and "900 prompt" in report


def test_an_unpriced_model_reports_the_cost_as_unknown_and_says_what_to_do() -> None:
    result = SolveResult(
        stop_reason=SolveOutcome.STEP_LIMIT,
        detail="step limit reached (40 of 40 steps)",
        patch="",
        base_commit="b" * 40,
        stats=AgentStats(steps=40, unpriced_calls=40),
    )
    report = render_report(REQUEST, result)
    assert "# Patchbot: No verified patch: step limit reached" in report
    assert "unknown (model not in price table)" in report
    assert "--max-steps" in report
