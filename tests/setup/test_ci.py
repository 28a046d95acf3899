"""The CI source: the workflow job that runs the tests, its installs, scripts and Pythons."""

from __future__ import annotations

from bot.setup.ci import read_ci
from bot.setup.planner import plan

from .conftest import WriteRepo

WORKFLOW = """
name: tests
on: [push]
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: pip install ruff && ruff check .
  test:
    strategy:
      matrix:
        python-version: [3.9, "3.10", 3.12]
    runs-on: ubuntu-latest
    env:
      FOO: bar
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: ${{ matrix.python-version }}
      - run: |
          python -m pip install --upgrade pip
          pip install -e ".[tests]" \\
            -r requirements/ci.txt
      - run: scripts/build-mo.sh
      - run: python -m pytest -x tests
"""


def test_the_job_that_runs_tests_gives_installs_scripts_command_and_pythons(
    write_repo: WriteRepo,
) -> None:
    repo = write_repo({".github/workflows/ci.yml": WORKFLOW, "scripts/build-mo.sh": "true\n"})
    found = read_ci(repo)
    assert found.source == ".github/workflows/ci.yml"
    assert [(i.project, i.extras, i.files) for i in found.installs if i.project or i.files] == [
        (True, ["tests"], ["requirements/ci.txt"])
    ]
    assert found.scripts == ["scripts/build-mo.sh"]
    assert found.test is not None and found.test.args == ["tests"]
    assert found.test.env == {"FOO": "bar"}
    assert found.pythons == ["3.9", "3.10", "3.12"]  # YAML's 3.10 is no longer 3.1


def test_a_workflow_running_tox_defers_to_the_env_it_names(write_repo: WriteRepo) -> None:
    workflow = "jobs:\n  t:\n    steps:\n      - run: pip install tox\n      - run: tox -e py\n"
    tox = "[tox]\nenvlist = lint,py\n[testenv]\ndeps = pytest-mock\ncommands = pytest {posargs}\n"
    repo = write_repo({".github/workflows/test.yml": workflow, "tox.ini": tox, "setup.py": ""})
    found = read_ci(repo)
    assert found.driver == ("tox", "py")
    planned = plan(repo)
    assert "pytest-mock" in planned.install.requirements
    assert planned.install.project


def test_docs_and_release_workflows_are_not_the_test_job(write_repo: WriteRepo) -> None:
    docs = "jobs:\n  d:\n    steps:\n      - run: nox -s docs\n"
    release = "jobs:\n  r:\n    steps:\n      - run: pip install build && pytest --collect-only\n"
    repo = write_repo(
        {".github/workflows/a-docs.yml": docs, ".github/workflows/release.yml": release}
    )
    assert read_ci(repo).source == ".github/workflows/release.yml"  # only as a last resort
    (repo / ".github/workflows/release.yml").unlink()
    assert read_ci(repo).source == ""


def test_hostile_or_broken_workflows_are_skipped(write_repo: WriteRepo) -> None:
    bomb = (
        "a: &a [x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
            for i in range(8)
        )
        + "jobs: *i\n"
    )
    repo = write_repo(
        {".github/workflows/a.yml": "jobs: [unclosed\n", ".github/workflows/b.yml": bomb}
    )
    assert read_ci(repo).source == ""


def test_tox_through_uvx_or_uv_run_with_expressions_is_found(write_repo: WriteRepo) -> None:
    steps = (
        "jobs:\n  t:\n    steps:\n"
        "      - run: scripts/build-mo.sh\n"
        "      - run: uvx --python ${{ matrix.python }} --with tox-uv tox -e py\n"
    )
    repo = write_repo({".github/workflows/test.yml": steps, "scripts/build-mo.sh": ""})
    found = read_ci(repo)
    assert found.driver == ("tox", "py") and found.scripts == ["scripts/build-mo.sh"]
    (repo / ".github/workflows/test.yml").write_text(
        "jobs:\n  t:\n    steps:\n      - run: uv run --locked --group dev tox run\n"
    )
    assert read_ci(repo).driver == ("tox", "")
