"""Choosing the test command: pytest or unittest, configured commands, and test paths."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.sandbox.testrun import JUNIT_PATH, plan_tests
from bot.setup.detect import detect_runner

UNITTEST_FILE = (
    "import unittest\n\n\nclass T(unittest.TestCase):\n    def test_a(self):\n        pass\n"
)


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture
def unittest_repo(tmp_path: Path) -> Path:
    """A repository that only unittest could be meant for; each test adds one pytest sign."""
    return write(tmp_path / "repo", {"tests/__init__.py": "", "tests/test_a.py": UNITTEST_FILE})


def test_unittest_only_repository_runs_with_unittest(unittest_repo: Path) -> None:
    plan = plan_tests(unittest_repo)
    assert plan.runner == "unittest"
    assert plan.command == "python -m unittest discover -v"
    assert plan.junit_path is None


@pytest.mark.parametrize(
    "files",
    [
        {"pytest.ini": "[pytest]\n"},
        {"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-x'\n"},
        {"setup.cfg": "[metadata]\nname = x\n\n[tool:pytest]\ntestpaths = tests\n"},
        {"tox.ini": "[tox]\nenvlist = py3\n\n[pytest]\nminversion = 7\n"},
        {"src/pkg/deep/conftest.py": ""},
        {"requirements-dev.txt": "# for CI\npytest==7.4.0\n"},
        {"pyproject.toml": "[project]\nname = 'x'\n[dependency-groups]\ntest = ['pytest-cov']\n"},
        {"tests/test_b.py": "import pytest\n\n\ndef test_b():\n    pass\n"},
    ],
    ids=["pytest.ini", "pyproject", "setup.cfg", "tox.ini", "conftest", "reqs", "groups", "import"],
)
def test_any_sign_of_pytest_selects_pytest(unittest_repo: Path, files: dict[str, str]) -> None:
    write(unittest_repo, files)
    plan = plan_tests(unittest_repo)
    assert plan.runner == "pytest"
    assert plan.junit_path == JUNIT_PATH
    assert plan.command == (f"python -m pytest -p no:cacheprovider -q -rA --junitxml={JUNIT_PATH}")


def test_plain_test_functions_and_empty_repositories_default_to_pytest(tmp_path: Path) -> None:
    assert detect_runner(tmp_path) == "pytest"
    write(tmp_path, {"test_x.py": "def test_x():\n    assert True\n"})
    assert detect_runner(tmp_path) == "pytest"


def test_pytest_sign_in_a_skipped_folder_is_ignored(unittest_repo: Path) -> None:
    write(unittest_repo, {".venv/lib/conftest.py": "", "node_modules/x/test_y.py": "import pytest"})
    assert detect_runner(unittest_repo) == "unittest"


def test_pytest_config_reached_through_a_symlink_is_not_read(
    unittest_repo: Path, tmp_path: Path
) -> None:
    outside = write(tmp_path / "outside", {"pyproject.toml": "[tool.pytest.ini_options]\n"})
    (unittest_repo / "pyproject.toml").symlink_to(outside / "pyproject.toml")
    (unittest_repo / "tests" / "test_link.py").symlink_to(outside / "pyproject.toml")
    assert detect_runner(unittest_repo) == "unittest"


def test_test_file_that_is_a_fifo_does_not_block_detection(unittest_repo: Path) -> None:
    os.mkfifo(unittest_repo / "tests" / "test_fifo.py")
    assert detect_runner(unittest_repo) == "unittest"  # returns, unread


def test_configured_command_wins_over_detection(unittest_repo: Path) -> None:
    plan = plan_tests(unittest_repo, configured="make check", paths=["tests/test_a.py"])
    assert (plan.runner, plan.command, plan.junit_path) == ("command", "make check", None)


def test_pytest_paths_reach_pytest_as_single_arguments(tmp_path: Path) -> None:
    paths = ["tests/test_x.py::test_p[a b]", "tests/it's here.py", "tests/$(touch x).py"]
    plan = plan_tests(tmp_path, paths=paths)
    assert shlex.split(plan.command)[-3:] == paths


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "../other", "tests/../../x.py", "..", "-p evil", "--junitxml=/x", "~root", ""],
)
def test_path_outside_the_repository_or_like_an_option_is_refused(
    tmp_path: Path, path: str
) -> None:
    with pytest.raises(ConfigError, match="relative to its root"):
        plan_tests(tmp_path, paths=[path])


def test_path_that_stays_inside_after_dotdot_is_accepted(tmp_path: Path) -> None:
    plan = plan_tests(tmp_path, paths=["tests/../tests/test_x.py"])
    assert plan.command.endswith(" tests/../tests/test_x.py")


def test_unittest_paths_become_dotted_names(unittest_repo: Path) -> None:
    write(unittest_repo, {"tests/sub/__init__.py": "", "tests/sub/test_c.py": UNITTEST_FILE})
    plan = plan_tests(
        unittest_repo, paths=["tests/test_a.py::T::test_a", "tests/sub", "tests.test_a"]
    )
    assert plan.runner == "unittest"
    assert shlex.split(plan.command) == [
        "python", "-m", "unittest", "-v", "tests.test_a.T.test_a", "tests.sub.test_c",
        "tests.test_a",
    ]  # fmt: skip


def test_unittest_tests_folder_without_init_is_discovered_from_its_own_start(
    tmp_path: Path,
) -> None:
    write(tmp_path, {"tests/test_a.py": UNITTEST_FILE})
    assert plan_tests(tmp_path).command == "python -m unittest discover -v -s tests"


def test_examples_pick_the_runner_they_were_written_for(
    copy_example: Callable[[str], Path],
) -> None:
    runners = {
        name: plan_tests(copy_example(name)).runner
        for name in ("calc", "mixed", "unittest_only", "hangs", "with_deps", "src_layout")
    }
    assert runners == {
        "calc": "pytest",
        "mixed": "pytest",
        "unittest_only": "unittest",
        "hangs": "pytest",
        "with_deps": "pytest",
        "src_layout": "pytest",
    }


def test_unittest_folder_path_through_a_link_lists_nothing_outside(
    unittest_repo: Path, tmp_path: Path
) -> None:
    write(tmp_path / "host", {"test_host_secret_name.py": UNITTEST_FILE})
    (unittest_repo / "linked").symlink_to(tmp_path / "host")
    plan = plan_tests(unittest_repo, paths=["linked", "linked/"])
    assert "host_secret" not in plan.command
