"""tox (tox.ini and [tool.tox]) and nox as sources of the test env."""

from __future__ import annotations

from pathlib import Path

from bot.setup.tox import read_nox, read_tox

from .conftest import WriteRepo

TOX_INI = """
[tox]
env_list = lint, py3{10-12}-tests, docs

[testenv]
extras =
    tests: testing
deps =
    tests: -r requirements/test.txt
    lint: ruff
    pytidylib
setenv =
    THREADING_TESTS = 1
commands =
    tests: {envpython} -m pytest {posargs:-n auto} {toxinidir}/tests
    lint: ruff check
skip_install = false
"""


def test_factor_conditions_choose_the_test_envs_lines(write_repo: WriteRepo) -> None:
    found = read_tox(write_repo({"tox.ini": TOX_INI}))
    assert found.source == "tox.ini [testenv:py310-tests]"
    assert found.install.extras == ["testing"]
    assert found.install.files == ["requirements/test.txt"]
    assert found.install.requirements == ["pytidylib"]  # not lint's ruff
    assert found.test is not None
    assert found.test.args == ["tests"]
    assert found.test.env == {"THREADING_TESTS": "1"}


def test_a_condition_inside_a_continued_command(write_repo: WriteRepo) -> None:
    tox = (
        "[testenv]\ncommands =\n    python -m pytest \\\n    pypy39: --no-cov \\\n"
        "    -k fast {posargs:}\n"
    )
    found = read_tox(write_repo({"tox.ini": tox}))
    assert found.test is not None and found.test.args == ["-k", "fast"]


def test_tox_in_pyproject_with_dependency_groups(write_repo: WriteRepo) -> None:
    pyproject = """
[tool.tox]
env_list = ["style", "py3.12"]
[tool.tox.env_run_base]
dependency_groups = ["tests"]
set_env = { A = "1" }
commands = [["pytest", "-v", "--tb=short", { replace = "posargs", default = [] }]]
[tool.tox.env.style]
skip_install = true
commands = [["pre-commit", "run"]]
"""
    found = read_tox(write_repo({"pyproject.toml": pyproject}))
    assert found.install.groups == ["tests"]
    assert not found.skip_install
    assert found.test is not None and found.test.args == [] and found.test.env == {"A": "1"}


def test_nox_session_installs_and_runs_with_names_followed(write_repo: WriteRepo) -> None:
    noxfile = """
import nox
BINARY = ("--only-binary", "hypothesis")
@nox.session
def lint(session):
    session.install("ruff")
@nox.session(python=["3.12"])
def tests(session):
    coverage = ["python", "-m", "coverage"]
    session.install(*BINARY, *nox.project.dependency_groups(PYPROJECT, "test"))
    session.install("-e.[extra]")
    session.run(*coverage, "run", "-m", "pytest", "tests/unit", *session.posargs)
"""
    found = read_nox(write_repo({"noxfile.py": noxfile}))
    assert found.source == "noxfile.py tests"
    assert found.install.groups == ["test"]
    assert found.install.project and found.install.extras == ["extra"]
    assert found.test is not None and found.test.args == ["tests/unit"]


def test_a_noxfile_is_parsed_never_run(write_repo: WriteRepo, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    noxfile = (
        f"open({str(marker)!r}, 'w').write('x')\n"
        "import nox\n@nox.session\ndef tests(s):\n    s.run('pytest')\n"
    )
    found = read_nox(write_repo({"noxfile.py": noxfile}))
    assert found.test is not None and not marker.exists()


def test_a_nose_suite_is_run_by_pytest_with_noses_settings(write_repo: WriteRepo) -> None:
    from bot.setup.planner import find_test_command

    repo = write_repo({
        "tox.ini": "[testenv]\ndeps = -rrequirements.txt\ncommands = nosetests\n",
        "setup.cfg": "[nosetests]\nwhere = tests\nall-modules = true\n",
    })  # fmt: skip
    test = find_test_command(repo)
    assert test.runner == "pytest" and test.nose
    assert test.args == ["tests", "-o", "python_files=*.py"]
