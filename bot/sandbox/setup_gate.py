"""The baseline gate: a suite that does not collect, or collects no test, can never judge a
fix, so the run stops before the first model call and says what to configure."""

from __future__ import annotations

from bot.sandbox.models import Outcome, TestCase, TestReport
from bot.sandbox.testrun import SYNTHETIC_ID

_COLLECTION_IDS = ("unittest.loader._FailedTest", "unittest.loader.ModuleImportFailure")


def collection_errors(report: TestReport) -> list[TestCase]:
    """Cases that are a test module failing to load (pytest's collection failures, unittest's
    failed imports), not a test failing."""
    return [
        case
        for case in report.cases
        if case.outcome is Outcome.ERROR
        and (case.message.startswith("collection failure") or case.id.startswith(_COLLECTION_IDS))
    ]


def baseline_problem(report: TestReport) -> str | None:
    """Why the baseline cannot judge a candidate, or None when it can."""
    if report.timed_out:
        return f"the test suite ran past its timeout ({report.duration:.0f} s)"
    broken = collection_errors(report)
    if broken:
        first = broken[0]
        more = f" and {len(broken) - 1} more" if len(broken) > 1 else ""
        return f"the tests do not collect: {first.id}{more}: {first.message[:300]}"
    ran = [c for c in report.cases if c.id != SYNTHETIC_ID and c.outcome is not Outcome.SKIPPED]
    if not ran:
        last = next((ln for ln in reversed(report.output_tail.splitlines()) if ln.strip()), "")
        return (
            f"the test command found no tests (`{report.command}` exited {report.exit_code}"
            + (f": {last.strip()[:200]}" if last else "")
            + ")"
        )
    return None
