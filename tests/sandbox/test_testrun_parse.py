"""Per-test results parsed from real pytest and unittest runs of our example repositories."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.sandbox.models import ExecResult, Outcome, TestReport
from bot.sandbox.testrun import SYNTHETIC_ID, TestPlan, plan_tests
from bot.setup.planner import pythonpath

RunPlan = Callable[..., tuple[TestReport, ExecResult, str | None]]

MIXED = "tests/test_mixed.py::"
EDGE_TESTS = """\
import pytest


@pytest.fixture
def breaks_on_teardown():
    yield 1
    raise RuntimeError("teardown boom")


@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False


@pytest.mark.xfail(reason="fixed now")
def test_xpass():
    pass


@pytest.mark.xfail(reason="strictly", strict=True)
def test_xpass_strict():
    pass


@pytest.mark.parametrize("value", ["a b", "x]y", "[z] - q"])
def test_params(value):
    assert value != "x]y"


def test_café():
    assert "é".upper() == "É"


def test_teardown(breaks_on_teardown):
    assert breaks_on_teardown == 1


def test_long_message():
    assert "x" * 2000 == "y"
"""


def outcomes(report: TestReport) -> dict[str, Outcome]:
    return {case.id: case.outcome for case in report.cases}


def without_junit(plan: TestPlan) -> TestPlan:
    return plan.model_copy(update={"junit_path": None})


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_mixed_suite_is_reported_test_by_test_from_junit(
    copy_example: Callable[[str], Path], run_plan: RunPlan
) -> None:
    repo = copy_example("mixed")
    report, result, junit = run_plan(plan_tests(repo), repo)
    assert junit is not None and result.exit_code == 1
    assert outcomes(report) == {
        MIXED + "test_one_plus_one": Outcome.PASSED,
        MIXED + "test_sum": Outcome.PASSED,
        MIXED + "test_wrong_arithmetic": Outcome.FAILED,
        MIXED + "test_uses_broken_fixture": Outcome.ERROR,
        MIXED + "test_skipped": Outcome.SKIPPED,
        MIXED + "TestStrings::test_upper": Outcome.PASSED,
        MIXED + "TestStrings::test_wrong_lower": Outcome.FAILED,
    }
    assert report.summary_line() == "3 passed, 3 failed, 1 skipped"
    assert not report.all_passed
    by_id = {case.id: case for case in report.cases}
    assert "fixture failed on purpose" in by_id[MIXED + "test_uses_broken_fixture"].message
    assert by_id[MIXED + "test_skipped"].message == "skipped on purpose"
    assert all(case.duration is not None and case.duration >= 0 for case in report.cases)
    assert "2 failed, 3 passed, 1 skipped, 1 error" in report.output_tail


def test_mixed_suite_reads_the_same_from_pytest_summary_without_junit(
    copy_example: Callable[[str], Path], run_plan: RunPlan
) -> None:
    repo = copy_example("mixed")
    from_junit, _, _ = run_plan(plan_tests(repo), repo)
    from_text, _, _ = run_plan(without_junit(plan_tests(repo)), repo)
    not_skipped = {k: v for k, v in outcomes(from_junit).items() if v is not Outcome.SKIPPED}
    assert {k: v for k, v in outcomes(from_text).items() if v is not Outcome.SKIPPED} == (
        not_skipped
    )
    skipped = [case for case in from_text.cases if case.outcome is Outcome.SKIPPED]
    assert [(case.id, case.message) for case in skipped] == [
        ("tests/test_mixed.py:30", "skipped on purpose")
    ]


@pytest.mark.parametrize("junit", [True, False], ids=["junit", "summary"])
def test_pytest_edge_cases_keep_their_exact_ids(
    tmp_path: Path, run_plan: RunPlan, junit: bool
) -> None:
    repo = write(tmp_path / "edge", {"pytest.ini": "[pytest]\n", "tests/test_edge.py": EDGE_TESTS})
    plan = plan_tests(repo) if junit else without_junit(plan_tests(repo))
    report, _, xml = run_plan(plan, repo)
    assert (xml is not None) == junit
    edge = "tests/test_edge.py::"
    assert outcomes(report) == {
        edge + "test_xfail": Outcome.SKIPPED,
        edge + "test_xpass": Outcome.PASSED,
        edge + "test_xpass_strict": Outcome.FAILED,
        edge + "test_params[a b]": Outcome.PASSED,
        edge + "test_params[x]y]": Outcome.FAILED,
        edge + "test_params[[z] - q]": Outcome.PASSED,
        edge + "test_café": Outcome.PASSED,
        edge + "test_teardown": Outcome.ERROR,  # passed, then its fixture's teardown raised
        edge + "test_long_message": Outcome.FAILED,
    }
    by_id = {case.id: case for case in report.cases}
    assert by_id[edge + "test_xfail"].message == "xfail: known bug"
    assert "teardown boom" in by_id[edge + "test_teardown"].message
    assert len(by_id[edge + "test_long_message"].message) <= 500


@pytest.mark.parametrize("junit", [True, False], ids=["junit", "summary"])
def test_collection_error_is_an_error_not_an_empty_green_run(
    tmp_path: Path, run_plan: RunPlan, junit: bool
) -> None:
    repo = write(
        tmp_path / "broken",
        {
            "pytest.ini": "[pytest]\n",
            "tests/test_fine.py": "def test_fine():\n    pass\n",
            "tests/test_broken.py": "import no_such_module_for_patchbot\n",
        },
    )
    plan = plan_tests(repo) if junit else without_junit(plan_tests(repo))
    report, result, _ = run_plan(plan, repo)
    assert result.exit_code == 2
    assert outcomes(report) == {"tests/test_broken.py": Outcome.ERROR}
    assert not report.all_passed and report.failed == 1
    if junit:
        assert "No module named 'no_such_module_for_patchbot'" in report.cases[0].message


def test_no_tests_collected_gives_no_cases(tmp_path: Path, run_plan: RunPlan) -> None:
    repo = write(tmp_path / "empty", {"pytest.ini": "[pytest]\n", "tests/helper.py": ""})
    report, result, _ = run_plan(plan_tests(repo), repo)
    assert result.exit_code == 5
    assert report.cases == []
    assert not report.all_passed


def test_passing_examples_are_all_green(
    copy_example: Callable[[str], Path], run_plan: RunPlan
) -> None:
    calc = copy_example("calc")
    report, _, _ = run_plan(plan_tests(calc), calc)
    assert report.all_passed and report.summary_line() == "6 passed, 0 failed"
    assert "tests/test_calc.py::test_div[1-4-0.25]" in outcomes(report)


def test_src_layout_passes_with_the_set_up_plans_pythonpath(
    copy_example: Callable[[str], Path], run_plan: RunPlan
) -> None:
    repo = copy_example("src_layout")
    paths = pythonpath(repo)
    assert paths == ["/workspace/src", "/workspace"]
    relative = tuple(p.removeprefix("/workspace").lstrip("/") or "." for p in paths)
    report, _, _ = run_plan(plan_tests(repo), repo, pythonpath=relative)
    assert report.summary_line() == "2 passed, 0 failed"
    without_src, _, _ = run_plan(plan_tests(repo), repo, pythonpath=(".",))
    assert not without_src.all_passed  # the example really needs src/ on the path


def test_unittest_example_is_reported_test_by_test(
    copy_example: Callable[[str], Path], run_plan: RunPlan
) -> None:
    repo = copy_example("unittest_only")
    report, result, _ = run_plan(plan_tests(repo), repo)
    assert result.exit_code == 1
    assert outcomes(report) == {
        "tests.test_strutil.ShoutTest.test_shout": Outcome.PASSED,
        "tests.test_strutil.ShoutTest.test_shout_empty": Outcome.PASSED,
        "tests.test_strutil.WordsTest.test_words": Outcome.PASSED,
        "tests.test_strutil.WordsTest.test_words_wrong": Outcome.FAILED,
    }
    failed = report.cases[-1]
    assert failed.message.startswith("AssertionError: Lists differ")


UNITTEST_EDGES = '''\
import sys
import unittest


class A(unittest.TestCase):
    def test_doc(self):
        """A docstring makes unittest print the status on the next line."""

    def test_noise(self):
        sys.stderr.write("noise")

    @unittest.skip("not today")
    def test_skip(self):
        pass

    @unittest.expectedFailure
    def test_expected_failure(self):
        self.fail("x")

    @unittest.expectedFailure
    def test_unexpected_success(self):
        pass

    def test_sub(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertLess(i, 2)

    def test_error(self):
        raise KeyError("k")

    def test_café(self):
        pass


class B(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise RuntimeError("class set-up failed")

    def test_never_runs(self):
        pass
'''


def test_unittest_edge_cases_are_each_reported(tmp_path: Path, run_plan: RunPlan) -> None:
    repo = write(
        tmp_path / "ut",
        {
            "test_edges.py": UNITTEST_EDGES,
            "test_import.py": "import unittest\n\nimport no_such_module_for_patchbot\n",
        },
    )
    plan = plan_tests(repo)
    assert plan.runner == "unittest"
    report, _, _ = run_plan(plan, repo)
    assert outcomes(report) == {
        "unittest.loader._FailedTest.test_import": Outcome.ERROR,
        "test_edges.A.test_doc": Outcome.PASSED,
        "test_edges.A.test_noise": Outcome.PASSED,
        "test_edges.A.test_skip": Outcome.SKIPPED,
        "test_edges.A.test_expected_failure": Outcome.SKIPPED,
        "test_edges.A.test_unexpected_success": Outcome.FAILED,
        "test_edges.A.test_sub (i=2)": Outcome.FAILED,
        "test_edges.A.test_error": Outcome.ERROR,
        "test_edges.A.test_café": Outcome.PASSED,
        "test_edges.B.setUpClass": Outcome.ERROR,
    }
    by_id = {case.id: case for case in report.cases}
    assert by_id["test_edges.A.test_skip"].message == "not today"
    assert by_id["test_edges.A.test_error"].message == "KeyError: 'k'"
    assert "no_such_module_for_patchbot" in by_id["unittest.loader._FailedTest.test_import"].message


@pytest.mark.slow
def test_hanging_suite_killed_at_timeout_reads_as_an_error(
    copy_example: Callable[[str], Path], run_plan: RunPlan
) -> None:
    repo = copy_example("hangs")
    report, result, _ = run_plan(plan_tests(repo), repo, timeout=3)
    assert result.timed_out and report.timed_out
    assert [(case.id, case.outcome) for case in report.cases] == [(SYNTHETIC_ID, Outcome.ERROR)]
    assert "timed out" in report.cases[0].message
    assert not report.all_passed


def test_configured_pytest_command_is_still_parsed_per_test(
    copy_example: Callable[[str], Path], run_plan: RunPlan
) -> None:
    repo = copy_example("mixed")
    plan = plan_tests(repo, configured="python -m pytest -p no:cacheprovider -q -rA tests")
    report, _, _ = run_plan(plan, repo)
    assert report.summary_line() == "3 passed, 3 failed, 1 skipped"


def test_configured_unittest_command_is_still_parsed_per_test(
    copy_example: Callable[[str], Path], run_plan: RunPlan
) -> None:
    repo = copy_example("unittest_only")
    plan = plan_tests(repo, configured="python -m unittest discover -v")
    report, _, _ = run_plan(plan, repo)
    assert report.summary_line() == "3 passed, 1 failed"


@pytest.mark.parametrize(
    ("script", "outcome"), [("echo all good", Outcome.PASSED), ("echo bad; exit 3", Outcome.FAILED)]
)
def test_configured_command_without_test_output_gives_one_case_from_its_exit_code(
    tmp_path: Path, run_plan: RunPlan, script: str, outcome: Outcome
) -> None:
    report, _, _ = run_plan(plan_tests(tmp_path, configured=script), tmp_path)
    assert [(case.id, case.outcome) for case in report.cases] == [(SYNTHETIC_ID, outcome)]
    assert report.command == script
