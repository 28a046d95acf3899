"""Hand-written edge cases of the parsers: hostile XML, older runner formats, output tails."""

from __future__ import annotations

from bot.sandbox.models import ExecResult, Outcome
from bot.sandbox.report_parsing import parse_junit, parse_pytest_text, parse_unittest_text
from bot.sandbox.testrun import SYNTHETIC_ID, TestPlan, output_tail, parse_report

PYTEST_PLAN = TestPlan(runner="pytest", command="python -m pytest", junit_path="/tmp/j.xml")
SUMMARY = """\
..F
=========================== short test summary info ============================
PASSED tests/test_a.py::test_ok
FAILED tests/test_a.py::test_bad - assert 1 == 2
1 failed, 1 passed in 0.01s
"""


def test_junit_with_a_doctype_is_refused_and_the_summary_is_used() -> None:
    hostile = """<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY boom "aaaaaaaaaa"><!ENTITY b2 "&boom;&boom;&boom;">]>
<testsuites><testsuite><testcase classname="tests.test_a" name="test_evil">&b2;</testcase>
</testsuite></testsuites>"""
    assert parse_junit(hostile) == []
    report = parse_report(PYTEST_PLAN, ExecResult(exit_code=1, stdout=SUMMARY), hostile, duration=1)
    assert {c.id: c.outcome for c in report.cases} == {
        "tests/test_a.py::test_ok": Outcome.PASSED,
        "tests/test_a.py::test_bad": Outcome.FAILED,
    }


def test_truncated_junit_falls_back_to_the_summary() -> None:
    broken = '<testsuites><testsuite><testcase classname="tests.test_a" name="test_ok"'
    report = parse_report(PYTEST_PLAN, ExecResult(exit_code=1, stdout=SUMMARY), broken, duration=1)
    assert report.summary_line() == "1 passed, 1 failed"


def test_junit_ids_are_derived_from_class_names_without_a_summary() -> None:
    xml = """<testsuites><testsuite>
<testcase classname="tests.unit.test_x.TestThing.TestInner" name="test_y[1-a b]" time="0.25"/>
<testcase classname="test_top" name="test_z" time="x"><skipped message="later"/></testcase>
</testsuite></testsuites>"""
    cases = parse_junit(xml)
    assert [(c.id, c.outcome, c.duration) for c in cases] == [
        ("tests/unit/test_x.py::TestThing::TestInner::test_y[1-a b]", Outcome.PASSED, 0.25),
        ("test_top.py::test_z", Outcome.SKIPPED, None),
    ]


def test_pytest_7_xpass_line_without_a_dash_is_read() -> None:
    # Debian bookworm's pytest 7.2 writes `XPASS id reason`; newer ones `XPASS id - reason`.
    text = (
        "=== short test summary info ===\n"
        "XPASS tests/t.py::test_p[a b] fixed now\n"
        "XFAIL tests/t.py::test_q - known bug\n"
        "SKIPPED [3] tests/t.py:7: no network\n"
        "ERROR tests/t.py::test_r[x] - RuntimeError: [1] boom\n"
    )
    cases = parse_pytest_text(text)
    assert [(c.id, c.outcome, c.message) for c in cases] == [
        ("tests/t.py::test_p[a b]", Outcome.PASSED, "xpass: fixed now"),
        ("tests/t.py::test_q", Outcome.SKIPPED, "xfail: known bug"),
        ("tests/t.py:7 (1 of 3)", Outcome.SKIPPED, "no network"),
        ("tests/t.py:7 (2 of 3)", Outcome.SKIPPED, "no network"),
        ("tests/t.py:7 (3 of 3)", Outcome.SKIPPED, "no network"),
        ("tests/t.py::test_r[x]", Outcome.ERROR, "RuntimeError: [1] boom"),
    ]


def test_result_lines_outside_the_summary_are_not_tests() -> None:
    text = "PASSED tests/fake.py::printed_by_a_test\n1 passed in 0.01s\n"
    assert parse_pytest_text(text) == []


def test_python_3_10_unittest_lines_are_read() -> None:
    text = (
        "test_a (pkg.test_m.T) ... ok\n"
        "test_b (pkg.test_m.T) ... FAIL\n"
        "test_ü (pkg.test_m.T) ... skipped 'why \"not\"'\n"
    )
    cases = parse_unittest_text(text)
    assert [(c.id, c.outcome, c.message) for c in cases] == [
        ("pkg.test_m.T.test_a", Outcome.PASSED, ""),
        ("pkg.test_m.T.test_b", Outcome.FAILED, "FAIL"),
        ("pkg.test_m.T.test_ü", Outcome.SKIPPED, 'why "not"'),
    ]


def test_unittest_status_is_not_taken_from_a_traceback_line() -> None:
    text = "test_a (m.T.test_a) ... \nprinted by the test: look\n"
    assert parse_unittest_text(text) == []


def test_failed_run_without_any_test_result_cannot_read_as_green() -> None:
    result = ExecResult(exit_code=1, stderr="/env/venv/bin/python: No module named pytest\n")
    report = parse_report(PYTEST_PLAN, result, None, duration=0.5)
    assert [(c.id, c.outcome) for c in report.cases] == [(SYNTHETIC_ID, Outcome.ERROR)]
    assert "No module named pytest" in report.cases[0].message
    assert not report.all_passed


def test_output_tail_keeps_the_last_lines_and_at_most_8_kb() -> None:
    many = "\n".join(f"line {n}" for n in range(1000))
    tail = output_tail(many)
    assert tail.splitlines() == [f"line {n}" for n in range(940, 1000)]
    wide = "\n".join("é" * 1000 for _ in range(30))
    capped = output_tail(wide)
    assert len(capped.encode()) <= 8 * 1024
    assert set(capped.splitlines()) == {"é" * 1000}  # whole lines, no broken character


def test_summary_whose_header_was_cut_with_the_middle_of_the_output_is_still_read() -> None:
    passed = "".join(f"PASSED tests/test_a.py::test_{n}\n" for n in range(3))
    text = f"...\n[... 123456 bytes truncated ...]\nsts/test_a.py::test_cut\n{passed}"
    text += "FAILED tests/test_a.py::test_bad - assert 0\n3 passed, 1 failed in 9.1s\n"
    cases = parse_pytest_text(text)
    assert [c.id for c in cases] == [f"tests/test_a.py::test_{n}" for n in range(3)] + [
        "tests/test_a.py::test_bad"
    ]
