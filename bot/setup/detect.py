"""Which runner a repository's tests use when nothing names a test command: pytest when
anything points to it, unittest when every test file uses only unittest."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Literal

from bot.repo_files import iter_repo_files, load_toml, read_repo_text
from bot.setup.declared_deps import NAME, TEST_GROUPS, normalize, read_project
from bot.setup.sources import requirement_files

SCAN_FILES = 2000
"""Most test files read to decide between pytest and unittest."""
TEST_FILE = re.compile(r"^(test.*|.*_test)\.py$")
_USES_PYTEST = re.compile(r"^\s*(import pytest\b|from pytest\b|from _pytest\b)", re.MULTILINE)
_USES_UNITTEST = re.compile(r"^\s*(import unittest\b|from unittest\b)", re.MULTILINE)


def declared_requirement_names(workspace: Path) -> set[str]:
    """Normalized names of the packages the repository declares anywhere we look."""
    strings = read_project(workspace).requirements(set(TEST_GROUPS))
    for rel in requirement_files(workspace):
        for line in (read_repo_text(workspace, rel) or "").splitlines():
            strings.append(line.split("#", 1)[0])
    return {normalize(m.group(1)) for s in strings if (m := NAME.match(s))}


def detect_runner(workspace: Path) -> Literal["pytest", "unittest"]:
    """pytest when anything points to it; unittest when every test file uses only unittest."""
    if read_repo_text(workspace, "pytest.ini") is not None:
        return "pytest"
    if read_repo_text(workspace, ".pytest.ini") is not None:
        return "pytest"
    tool = load_toml(read_repo_text(workspace, "pyproject.toml")).get("tool")
    if isinstance(tool, dict) and "pytest" in tool:
        return "pytest"
    for name, section in (("setup.cfg", "[tool:pytest]"), ("tox.ini", "[pytest]")):
        text = read_repo_text(workspace, name)
        if text is not None and re.search(rf"^{re.escape(section)}\s*$", text, re.MULTILINE):
            return "pytest"
    names = declared_requirement_names(workspace)
    if "pytest" in names or any(name.startswith("pytest-") for name in names):
        return "pytest"
    test_files = []
    for rel in iter_repo_files(workspace):
        name = posixpath.basename(rel)
        if name == "conftest.py":
            return "pytest"
        if TEST_FILE.match(name):
            test_files.append(rel)
    unittest_only = bool(test_files)
    for rel in test_files[:SCAN_FILES]:
        text = read_repo_text(workspace, rel, limit=256 * 1024)
        if text is None:
            continue  # a link, a FIFO, or too big: it counts neither way
        if _USES_PYTEST.search(text):
            return "pytest"
        unittest_only = unittest_only and bool(_USES_UNITTEST.search(text))
    return "unittest" if unittest_only else "pytest"
