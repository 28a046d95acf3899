"""A small repository with a made-up history: two fixes with tests, and commits mining must
reject, each for a reason of its own (one adds a tested function but breaks `mul` again)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

PYPROJECT = """\
[project]
name = "calc"
version = "0.1.0"
requires-python = ">=3.9"

[tool.pytest.ini_options]
testpaths = ["tests"]
"""
CALC = """\
def add(a, b):
    return a + b


def mul(a, b):
    return a * b + 0{bug}
"""
TESTS = """\
from calc import add, mul


def test_add():
    assert add(2, 3) == 5


def test_mul_by_one():
    assert mul(4, 1) == 4
"""
MUL_TEST = """

def test_mul():
    assert mul(3, 4) == 12
"""
CLAMP = """

def clamp_between(value, low, high):
    return max(low, min(value, high))
"""
CLAMP_TEST = """\
from calc import clamp_between


def test_clamp_between():
    assert clamp_between(5, 0, 3) == 3
    assert clamp_between(-1, 0, 3) == 0
"""
SUB = """

def sub(a, b):
    return a - b
"""
SUB_TEST = """\
from calc import sub


def test_sub():
    assert sub(3, 1) == 2
"""
LATER_FILE = "LATER.md"
"""A file only the last commit adds: no copy of an earlier base may hold it."""


def _git(repo: Path, *args: str, date: str = "2024-01-01T00:00:00Z") -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    done = subprocess.run(
        ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.invalid", *args],
        cwd=repo, capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    return done.stdout.strip()


def _commit(repo: Path, message: str, files: dict[str, str], day: int) -> str:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message, date=f"2024-01-{day:02d}T00:00:00Z")
    return _git(repo, "rev-parse", "HEAD")


def build_history(repo: Path) -> dict[str, str]:
    """Make the repository; the commits by role."""
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    start = {"pyproject.toml": PYPROJECT, "calc/__init__.py": CALC.format(bug=" + 1"),
             "tests/test_calc.py": TESTS.replace("mul(4, 1) == 4", "mul(4, 0) == 1")}  # fmt: skip
    commits = {"initial": _commit(repo, "Start calc", start, 1)}
    commits["docs"] = _commit(repo, "Add a readme", {"README.md": "# calc\n"}, 2)
    commits["fix"] = _commit(
        repo,
        "mul is off by one\n\nmul(3, 4) gives 13 instead of 12.",
        {"calc/__init__.py": CALC.format(bug=""), "tests/test_calc.py": TESTS + MUL_TEST},
        3,
    )
    commits["tests_only"] = _commit(
        repo, "More add tests", {"tests/test_calc.py": TESTS + MUL_TEST + "\n# more\n"}, 4
    )
    commits["feature"] = _commit(
        repo,
        "Add clamp_between to calc/__init__.py\n\nValues outside a range should be clamped.",
        {"calc/__init__.py": CALC.format(bug="") + CLAMP, "tests/test_clamp.py": CLAMP_TEST},
        5,
    )
    commits["refactor"] = _commit(
        repo,
        "Tidy add",
        {"calc/__init__.py": (CALC.format(bug="") + CLAMP).replace("a + b", "b + a"),
         "tests/test_calc.py": TESTS + MUL_TEST + "\n# more\n\n# tidy\n"},
        6,
    )  # fmt: skip
    commits["breaking"] = _commit(
        repo,
        "Add sub",
        {"calc/__init__.py": CALC.format(bug=" + 1") + CLAMP + SUB, "tests/test_sub.py": SUB_TEST},
        7,
    )
    commits["later"] = _commit(repo, "Notes", {LATER_FILE: "later\n"}, 8)
    return commits
