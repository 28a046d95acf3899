"""A candidate patch split into test files, source files and the test configuration, by the
runner's discovery rules as the BASE commit configures them (a patch cannot move the line)."""

from __future__ import annotations

import configparser
import fnmatch
import posixpath
import re
import tomllib
from collections.abc import Callable

from pydantic import BaseModel, Field

CONFIG_NAMES = frozenset(
    {"conftest.py", "pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml", "noxfile.py",
     "sitecustomize.py", "usercustomize.py", "patchbot.yml"}
)  # fmt: skip
"""Files that decide how the tests run or what the interpreter loads first: verification
always uses the base commit's (a `.pth` file counts too)."""
TEST_DIRS = frozenset({"tests", "test", "testing"})
DEFAULT_PYTHON_FILES = ("test_*.py", "*_test.py")
_HEADER = re.compile(r"^diff --git a/(.+) b/(.+)$")
_SIDE = re.compile(r"^(?:---|\+\+\+) (?:[ab]/(.+)|/dev/null)$")
_RENAME = re.compile(r"^(?:rename|copy) (?:from|to) (.+)$")

BaseReader = Callable[[str], str | None]
"""A file's text at the base commit, or None where it has none."""


class TestRules(BaseModel):
    """Which files pytest (or unittest) collects, read from the base commit."""

    __test__ = False

    python_files: list[str] = Field(default_factory=lambda: list(DEFAULT_PYTHON_FILES))
    testpaths: list[str] = Field(default_factory=list)


class Split(BaseModel):
    """Every path the patch touches (both sides of a rename), in one of three groups."""

    tests: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    config: list[str] = Field(default_factory=list)
    modules: list[str] = Field(default_factory=list)
    """The test files among `tests` that the runner collects tests from."""


def is_config(path: str) -> bool:
    name = posixpath.basename(path)
    return name in CONFIG_NAMES or name.endswith(".pth")


def test_rules(read_base: BaseReader) -> TestRules:
    """The base commit's pytest `python_files` and `testpaths`, where it sets them."""
    sections: list[dict[str, object]] = []
    text = read_base("pyproject.toml")
    if text:
        try:
            tool = tomllib.loads(text).get("tool", {})
            sections.append(tool.get("pytest", {}).get("ini_options", {}))
        except (tomllib.TOMLDecodeError, AttributeError):
            pass
    for name, section in (
        ("pytest.ini", "pytest"),
        ("tox.ini", "pytest"),
        ("setup.cfg", "tool:pytest"),
    ):
        text = read_base(name)
        if not text:
            continue
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text)
        except configparser.Error:
            continue
        if parser.has_section(section):
            sections.append(dict(parser.items(section)))
    rules = TestRules()
    for found in sections:  # the first file that sets a key wins, as pytest's ini lookup has it
        for key in ("python_files", "testpaths"):
            value = found.get(key)
            if value and getattr(rules, key) in (list(DEFAULT_PYTHON_FILES), []):
                words = value.split() if isinstance(value, str) else [str(v) for v in value]  # type: ignore[attr-defined]
                setattr(rules, key, words)
    return rules


def is_test(path: str, rules: TestRules) -> bool:
    """A test module by the runner's patterns, or any file under a test folder."""
    name = posixpath.basename(path)
    if any(fnmatch.fnmatch(name, pattern) for pattern in rules.python_files):
        return True
    parts = path.split("/")[:-1]
    if any(part in TEST_DIRS for part in parts):
        return True
    return any(path.startswith(p.strip("/") + "/") for p in rules.testpaths if p.strip("./"))


def patch_paths(patch: str) -> list[str]:
    """Every path a `git diff` touches, old and new sides, in order, without duplicates."""
    found: list[str] = []
    for line in patch.splitlines():
        for pattern in (_HEADER, _SIDE, _RENAME):
            match = pattern.match(line)
            if match:
                found += [group for group in match.groups() if group]
                break
    return list(dict.fromkeys(found))


def split_patch(patch: str, read_base: BaseReader) -> Split:
    rules = test_rules(read_base)
    split = Split()
    for path in patch_paths(patch):
        group = "config" if is_config(path) else "tests" if is_test(path, rules) else "sources"
        getattr(split, group).append(path)
        name = posixpath.basename(path)
        if group == "tests" and any(fnmatch.fnmatch(name, p) for p in rules.python_files):
            split.modules.append(path)
    return split
