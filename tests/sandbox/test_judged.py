"""The judge's records: only a complete, in-order run signed with this run's key counts."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

from bot.sandbox.judged import JUDGE_SOURCE, judged_command, read_records, start
from bot.sandbox.models import Outcome

KEY = "k" * 64


def signed(records: list[dict[str, object]], key: str = KEY) -> str:
    lines = []
    for seq, record in enumerate(records):
        body = json.dumps(record)
        mac = hmac.new(key.encode(), f"{seq}\n{body}".encode(), hashlib.sha256).hexdigest()
        lines.append(json.dumps({"seq": seq, "body": body, "mac": mac}))
    return "\n".join(lines) + "\n"


PASSED = {"id": "t.py::a", "outcome": "passed", "duration": 0.1}
END = {"end": True, "count": 1, "exitstatus": 0, "tampered": []}


def test_signed_closed_records_give_the_cases() -> None:
    records = read_records(signed([PASSED, END]), KEY)
    assert records.problem == "" and [(c.id, c.outcome) for c in records.cases] == [
        ("t.py::a", Outcome.PASSED)
    ]


def test_forged_reordered_cut_or_extended_records_are_refused() -> None:
    assert "forged" in read_records(signed([PASSED, END], key="x" * 64), KEY).problem
    lines = signed([PASSED, PASSED, END]).splitlines()
    assert "forged" in read_records("\n".join([lines[1], lines[0], lines[2]]), KEY).problem
    cut = read_records(signed([PASSED]), KEY)
    assert "no closing record" in cut.problem and len(cut.cases) == 1  # kept for a timeout
    extended = signed([PASSED, END]) + signed([PASSED, PASSED, PASSED]).splitlines()[2]
    assert "after the judge's last one" in read_records(extended, KEY).problem
    assert "not its own" in read_records("forged\n", KEY).problem
    assert "no record" in read_records(None, KEY).problem


def run_judge(tmp_path: Path, reruns: int = 0, args: tuple[str, ...] = (), path: str = "") -> str:
    command = judged_command({}, "-q -p no:cacheprovider")
    out = tmp_path / "records.jsonl"
    script = command.replace("/opt/patchbot-judge", str(JUDGE_SOURCE))
    script = script.replace("/tmp/patchbot-judge.jsonl", str(out))
    script = script.replace("python ", f"{sys.executable} ", 1)
    env = {**os.environ, "PYTEST_ADDOPTS": "-p nothing_here", "PYTHONPATH": path or str(tmp_path)}
    subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        input=start(KEY, args, reruns),
        text=True,
        capture_output=True,
        check=False,
    )
    return out.read_text()


def test_failures_run_again_in_the_same_process_with_fresh_fixtures(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        "import itertools\n"
        "import pytest\n"
        "calls = itertools.count()\n"
        "@pytest.fixture\n"
        "def fresh():\n"
        "    return []\n"
        "def test_flaky(fresh):\n"
        "    fresh.append(1)\n"
        "    assert fresh == [1] and next(calls) % 2 == 1\n"
        "def test_fine():\n"
        "    pass\n"
    )
    records = read_records(run_judge(tmp_path, reruns=2), KEY)
    assert [(c.id, c.outcome) for c in records.cases] == [
        ("test_x.py::test_flaky", Outcome.FAILED),
        ("test_x.py::test_flaky", Outcome.PASSED),
        ("test_x.py::test_flaky", Outcome.FAILED),
        ("test_x.py::test_fine", Outcome.PASSED),
    ]


def test_the_key_reaches_the_judge_on_stdin_only(tmp_path: Path) -> None:
    """The real plugin on the host: the key is in no argument, the run is signed with it, and
    a hook registered while the tests run is reported."""
    assert KEY not in judged_command({}, "-q")
    (tmp_path / "test_x.py").write_text(
        "def test_ok(request):\n"
        "    class Late:\n"
        "        def pytest_runtest_logreport(self, report):\n"
        "            pass\n"
        "    request.config.pluginmanager.register(Late(), 'late')\n"
    )
    records = read_records(run_judge(tmp_path), KEY)
    assert [(c.id, c.outcome) for c in records.cases] == [("test_x.py::test_ok", Outcome.PASSED)]
    assert records.tampered == ["pytest_runtest_logreport registered at run time by late"]


def test_the_checkout_stands_in_for_nothing_pytest_imports_and_the_tests_import_from_it(
    tmp_path: Path,
) -> None:
    """The run's PYTHONPATH (the checkout) is off the judge's path until pytest is imported,
    then where PYTHONPATH puts it, for the tests and their subprocesses; the tests run are the
    ones the start selects."""
    (tmp_path / "pluggy").mkdir()
    (tmp_path / "pluggy" / "__init__.py").write_text("raise SystemExit('the checkout stood in')\n")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "helper.py").write_text("VALUE = 3\n")
    path = f"{tmp_path}:{tmp_path / 'lib'}"
    (tmp_path / "test_x.py").write_text(
        "import os, sys\n"
        "import helper\n"
        "def test_path():\n"
        f"    assert helper.VALUE == 3 and os.environ['PYTHONPATH'] == {path!r}\n"
        f"    assert sys.path[:3] == [{str(tmp_path)!r}, *{path!r}.split(':')]\n"
        "def test_other():\n"
        "    pass\n"
    )
    records = read_records(run_judge(tmp_path, args=("test_x.py::test_path",), path=path), KEY)
    assert records.problem == ""
    assert [(c.id, c.outcome) for c in records.cases] == [("test_x.py::test_path", Outcome.PASSED)]


def test_a_cut_run_reads_as_an_error_unless_the_timeout_cut_it() -> None:
    from bot.sandbox.models import ExecResult
    from bot.sandbox.testrun import SYNTHETIC_ID, TestPlan, parse_report

    plan = TestPlan(runner="pytest", command="python -m pytest", junit_path=None)
    cut = read_records(signed([PASSED]), KEY)
    exited = parse_report(plan, ExecResult(exit_code=0), None, duration=1.0, judged=cut)
    assert [(c.id, c.outcome) for c in exited.cases] == [(SYNTHETIC_ID, Outcome.ERROR)]
    assert "no closing record" in exited.tampered[0]
    timed_out = ExecResult(exit_code=124, timed_out=True)
    killed = parse_report(plan, timed_out, None, duration=1.0, judged=cut)
    assert killed.tampered == [] and killed.cases[0].id == "t.py::a"


def test_expected_failures_read_as_junit_reads_them(tmp_path: Path) -> None:
    """An xfail test that fails is skipped; one that passes (not strict) has passed, as in
    pytest's JUnit report, from which tasks' expected outcomes are often taken."""
    (tmp_path / "test_x.py").write_text(
        "import pytest\n"
        "@pytest.mark.xfail(reason='known')\n"
        "def test_still_broken():\n"
        "    assert False\n"
        "@pytest.mark.xfail(reason='known')\n"
        "def test_fixed_since():\n"
        "    assert True\n"
        "@pytest.mark.xfail(reason='known', strict=True)\n"
        "def test_strict():\n"
        "    assert True\n"
    )
    records = read_records(run_judge(tmp_path), KEY)
    assert [(c.id, c.outcome) for c in records.cases] == [
        ("test_x.py::test_still_broken", Outcome.SKIPPED),
        ("test_x.py::test_fixed_since", Outcome.PASSED),
        ("test_x.py::test_strict", Outcome.FAILED),
    ]
