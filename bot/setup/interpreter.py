"""Which Python a commit's tests run on: from its `requires-python`, its classifiers and the
versions its CI and tox test with, among the sandbox images that are built."""

from __future__ import annotations

import ast
import configparser
import re
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from bot.repo_files import load_toml, read_repo_text
from bot.setup.declared_deps import table

_CLASSIFIER = re.compile(r"Programming Language :: Python :: (3\.\d+)\b")
_TOX_ENV = re.compile(r"\bpy3(\d{1,2})\b")


def declared_pythons(workspace: Path, ci_pythons: list[str]) -> tuple[SpecifierSet, list[str]]:
    """What the repository allows (`requires-python`, or any) and the 3.x versions it names
    (classifiers, CI matrix, tox envs), oldest first."""
    pyproject = load_toml(read_repo_text(workspace, "pyproject.toml"))
    project = table(pyproject, "project")
    setup_cfg = read_repo_text(workspace, "setup.cfg") or ""
    setup_py = read_repo_text(workspace, "setup.py") or ""
    requires = project.get("requires-python")
    if not isinstance(requires, str):
        requires = _setup_cfg_option(setup_cfg, "python_requires") or _setup_py_keyword(
            setup_py, "python_requires"
        )
    poetry_python = table(table(table(pyproject, "tool"), "poetry"), "dependencies").get("python")
    try:
        allowed = SpecifierSet(requires or "")
    except InvalidSpecifier:
        allowed = SpecifierSet()
    if not requires and isinstance(poetry_python, str) and poetry_python.startswith(("^", ">=")):
        allowed = SpecifierSet(f">={poetry_python.lstrip('^>=').strip()}")
    classifiers = project.get("classifiers")
    text = (
        " ".join(c for c in classifiers if isinstance(c, str))
        if isinstance(classifiers, list)
        else ""
    )
    text += setup_cfg + setup_py
    named = set(_CLASSIFIER.findall(text)) | set(ci_pythons)
    named |= {f"3.{m}" for m in _TOX_ENV.findall(read_repo_text(workspace, "tox.ini") or "")}
    return allowed, sorted(named, key=Version)


def choose_python(
    available: dict[str, str], default: str, allowed: SpecifierSet, named: list[str]
) -> str:
    """The image to use, from `available` (image name -> its Python version): the default
    when the repository allows it and names it, a newer version or nothing; else (an old
    commit) the newest allowed image it names; else the allowed image closest to the newest
    version it names."""
    usable = {n: v for n, v in available.items() if allowed.contains(v, prereleases=True)}
    if not usable:
        return default
    if default in usable and (not named or Version(named[-1]) >= Version(usable[default])):
        return default
    listed = [n for n, v in usable.items() if v in named]
    if listed:
        return max(listed, key=lambda n: Version(usable[n]))
    if not named:
        return default if default in usable else max(usable, key=lambda n: Version(usable[n]))
    newest = Version(named[-1])
    return min(usable, key=lambda n: (abs(_minor(Version(usable[n])) - _minor(newest)), n))


def _minor(version: Version) -> int:
    return version.major * 100 + version.minor


def _setup_cfg_option(text: str, key: str) -> str | None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return parser.get("options", key, fallback=None)


def _setup_py_keyword(text: str, key: str) -> str | None:
    """A literal string keyword of `setup(...)`; setup.py is parsed, never run."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                value = keyword.value
                if (
                    keyword.arg == key
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    return value.value
    return None
