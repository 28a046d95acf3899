"""The project's own metadata: test extras and groups, and one requirement set chosen by name."""

from __future__ import annotations

from bot.setup.planner import plan
from bot.setup.sources import chosen_requirement_files, read_project_findings

from .conftest import WriteRepo


def test_setup_py_extras_for_tests_are_installed_with_the_project(write_repo: WriteRepo) -> None:
    setup = (
        "from setuptools import setup\n"
        'setup(name="w", extras_require={"tests": ["pytest", "six"], "docs": ["sphinx"]})\n'
    )
    planned = plan(write_repo({"setup.py": setup}))
    assert planned.install.project and planned.install.editable
    assert planned.install.extras == ["tests"]
    assert "sphinx" not in planned.install.requirements


def test_pep735_test_group_wins_over_dev_and_includes_are_followed(write_repo: WriteRepo) -> None:
    pyproject = """
[project]
name = "p"
[dependency-groups]
base = ["attrs"]
test = ["pytest", {include-group = "base"}]
dev = ["ruff", {include-group = "test"}]
"""
    found = read_project_findings(write_repo({"pyproject.toml": pyproject}))
    assert found.groups == {"test": ["pytest", "attrs"]}


def test_dev_sets_are_the_fallback_for_groups_and_extras_alike(write_repo: WriteRepo) -> None:
    pyproject = (
        '[project]\nname = "p"\n[project.optional-dependencies]\ndev = ["build"]\n'
        '[dependency-groups]\ndev = ["pytest"]\n'
    )
    found = read_project_findings(write_repo({"pyproject.toml": pyproject}))
    assert found.extras == ["dev"] and found.groups == {"dev": ["pytest"]}


def test_poetry_and_hatch_test_environments(write_repo: WriteRepo) -> None:
    pyproject = """
[tool.poetry]
name = "p"
[tool.poetry.group.test.dependencies]
pytest = "^8.0"
[tool.hatch.envs.docs]
dependencies = ["mkdocs"]
"""
    found = read_project_findings(write_repo({"pyproject.toml": pyproject}))
    assert found.groups == {"test": ["pytest>=8.0,<9.0"]}


def test_one_test_requirement_set_not_every_file(write_repo: WriteRepo) -> None:
    files = {
        "requirements.txt": "click==8.1.3\n",
        "requirements/min.txt": "click==8.0.0\n",
        "requirements/docs.txt": "sphinx\n",
        "requirements/tests.txt": "-r ../requirements.txt\npytest\n",
        "requirements/typing.txt": "mypy\n",
    }
    assert chosen_requirement_files(write_repo(files)) == ["requirements/tests.txt"]


def test_dev_requirements_then_plain_requirements(write_repo: WriteRepo) -> None:
    assert chosen_requirement_files(
        write_repo({"requirements.txt": "", "requirements-dev.txt": ""})
    ) == ["requirements-dev.txt"]


def test_plain_requirements_and_pytest_added_when_nothing_declares_it(
    write_repo: WriteRepo,
) -> None:
    repo = write_repo({"requirements.txt": "six\n", "tests/test_a.py": "def test_a(): pass\n"})
    planned = plan(repo)
    assert planned.install.files == ["requirements.txt"]
    assert not planned.install.project  # nothing to build
    assert planned.install.requirements == ["pytest"]
    assert planned.inputs == ["requirements.txt"]


def test_a_configured_command_wins_and_is_kept_as_written(write_repo: WriteRepo) -> None:
    repo = write_repo({"setup.py": "", "tox.ini": "[testenv]\ndeps = x\n"})
    planned = plan(repo, setup_command="pip install -e .[test]")
    assert planned.install.command == "pip install -e .[test]"
    assert planned.sources[0] == ".github/patchbot.yml setup_command"
