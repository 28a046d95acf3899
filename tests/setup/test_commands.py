"""Reading install and test command lines as a CI, tox or nox writes them."""

from __future__ import annotations

from bot.setup.commands import parse_install, parse_test, segments


def install(line: str):  # type: ignore[no-untyped-def]
    found = [parse_install(words) for words in segments(line)]
    return [f for f in found if f is not None]


def test_editable_project_with_extras_files_groups_and_packages() -> None:
    [line] = install(
        "python -m pip install -U -e '.[test,docs]' -r req/test.txt --group dev pytest-cov"
    )
    assert line.project and line.editable
    assert line.extras == ["test", "docs"]
    assert line.files == ["req/test.txt"]
    assert line.groups == ["dev"]
    assert line.requirements == ["pytest-cov"]


def test_tools_that_drive_the_run_are_not_test_requirements() -> None:
    [line] = install("pip install --upgrade pip setuptools wheel tox coverage")
    assert line.requirements == ["coverage"]
    assert not line.project


def test_several_commands_on_one_line_and_options_with_values() -> None:
    lines = install(
        "uv pip install --index-url https://x/simple . && pip3 install -rrequirements.txt"
    )
    assert lines[0].project and not lines[0].editable and lines[0].requirements == []
    assert lines[1].files == ["requirements.txt"]


def test_lines_that_install_nothing_are_ignored() -> None:
    assert install("pip list && python -m pip --version && echo pip install x") == []


def test_wrappers_and_report_options_are_taken_off_the_test_command() -> None:
    words = [
        "THREADING_TESTS=1",
        "coverage",
        "run",
        "--source=x",
        "-m",
        "pytest",
        "-v",
        "-n",
        "auto",
        "--cov",
        "x",
        "--cov-report",
        "term",
        "tests",
    ]
    test = parse_test(words, "ci")
    assert test is not None
    assert test.runner == "pytest"
    assert test.args == ["tests"]
    assert test.env == {"THREADING_TESTS": "1"}


def test_uv_run_poetry_run_and_python_m_unittest() -> None:
    test = parse_test(
        [
            "uv",
            "run",
            "--group",
            "dev",
            "poetry",
            "run",
            "python",
            "-m",
            "unittest",
            "discover",
            "-v",
            "-s",
            "tests",
        ],
        "x",
    )
    assert test is not None and test.runner == "unittest"
    assert test.args == ["discover", "-s", "tests"]


def test_tox_posargs_give_their_default() -> None:
    test = parse_test(
        ["pytest", "{posargs:tests --doctest-modules}", "--basetemp={envtmpdir}"], "tox"
    )
    assert test is not None and test.args == ["tests", "--doctest-modules"]


def test_a_command_that_runs_no_test_runner_is_none() -> None:
    assert parse_test(["mypy", "src"], "x") is None
    assert parse_test(["coverage", "report"], "x") is None
