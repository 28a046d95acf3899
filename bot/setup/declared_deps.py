"""The dependencies a Python repository declares, read without running any of its code."""

from __future__ import annotations

import ast
import configparser
import re
from pathlib import Path
from typing import Any

from bot.repo_files import load_toml, read_repo_text

TEST_GROUPS = ("test", "tests", "testing", "dev")
"""Extras and dependency groups installed with the project's own dependencies."""

NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
"""A requirement's distribution name and extras."""
_VERSION = re.compile(r"^(\d+(?:\.\d+)*)(.*)$")


class ProjectMetadata:
    """The project's name and its dependencies: the base ones and each named group."""

    def __init__(self, name: str | None = None) -> None:
        self.name = normalize(name) if name else None
        self.base: list[str] = []
        self.groups: dict[str, list[str]] = {}
        self.extras: list[str] = []
        """The groups that are extras of the project (installable as `.[name]`)."""

    def add_group(self, group: str, requirements: list[str], *, extra: bool = False) -> None:
        self.groups.setdefault(group, []).extend(requirements)
        if extra and group not in self.extras:
            self.extras.append(group)

    def requirements(self, groups: set[str]) -> list[str]:
        """Base dependencies plus the named groups, with references to the project expanded.

        The project itself is left out (tests import it from the checkout), and so is any
        string that starts with `-`: an option in disguise must never reach pip.
        """
        out: list[str] = []
        pending = [*self.base, *(r for g in sorted(groups) for r in self.groups.get(g, []))]
        seen_groups = set(groups)
        while pending:
            requirement = pending.pop(0).strip()
            if not requirement or requirement.startswith("-"):
                continue
            match = NAME.match(requirement)
            if match and self.name and normalize(match.group(1)) == self.name:
                for extra in (e.strip() for e in (match.group(2) or "").split(",")):
                    if extra and extra not in seen_groups:
                        seen_groups.add(extra)
                        pending.extend(self.groups.get(extra, []))
                continue
            out.append(requirement)
        return list(dict.fromkeys(out))


def read_project(workspace: Path) -> ProjectMetadata:
    """Dependencies from pyproject.toml (PEP 621, PEP 735, Poetry), setup.cfg, literal
    arguments of `setup()` in setup.py, and Pipfile."""
    meta = ProjectMetadata()
    data = load_toml(read_repo_text(workspace, "pyproject.toml"))
    _read_pep621(data, meta)
    _read_poetry(table(table(data, "tool"), "poetry"), meta)
    _read_setup_cfg(read_repo_text(workspace, "setup.cfg"), meta)
    _read_setup_py(read_repo_text(workspace, "setup.py"), meta)
    pipfile = load_toml(read_repo_text(workspace, "Pipfile"))
    meta.base += poetry_style(table(pipfile, "packages"))
    meta.add_group("dev", poetry_style(table(pipfile, "dev-packages")))
    return meta


def _read_pep621(data: dict[str, Any], meta: ProjectMetadata) -> None:
    project = table(data, "project")
    if isinstance(project.get("name"), str):
        meta.name = normalize(project["name"])
    meta.base += strings(project.get("dependencies"))
    for group, value in table(project, "optional-dependencies").items():
        meta.add_group(str(group), strings(value), extra=True)
    groups = table(data, "dependency-groups")
    for group in TEST_GROUPS:
        meta.add_group(group, dependency_group(groups, group, set()))


def dependency_group(groups: dict[str, Any], name: str, seen: set[str]) -> list[str]:
    """PEP 735: strings, and `{include-group = "..."}` tables followed once each."""
    seen.add(name)
    out: list[str] = []
    entries = groups.get(name)
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, str):
            out.append(entry)
        elif isinstance(entry, dict) and entry.get("include-group") not in (*seen, None):
            out += dependency_group(groups, str(entry["include-group"]), seen)
    return out


def _read_poetry(poetry: dict[str, Any], meta: ProjectMetadata) -> None:
    if meta.name is None and isinstance(poetry.get("name"), str):
        meta.name = normalize(poetry["name"])
    meta.base += poetry_style(table(poetry, "dependencies"))
    meta.add_group("dev", poetry_style(table(poetry, "dev-dependencies")))
    for group, value in table(poetry, "group").items():
        if isinstance(value, dict):
            meta.add_group(str(group), poetry_style(table(value, "dependencies")))


def poetry_style(dependencies: dict[str, Any]) -> list[str]:
    """PEP 508 strings from Poetry's or Pipfile's `name = spec` tables; optional, local-path
    and unreadable entries are left out."""
    out = []
    for name, spec in dependencies.items():
        if name.lower() == "python" or not NAME.fullmatch(name):
            continue
        extras = ""
        if isinstance(spec, dict):
            if spec.get("optional") is True or "path" in spec:
                continue
            if isinstance(spec.get("extras"), list):
                extras = "[" + ",".join(strings(spec["extras"])) + "]"
            if isinstance(spec.get("git"), str):
                ref = next((spec[k] for k in ("rev", "tag", "branch", "ref") if k in spec), None)
                url = spec["git"] if spec["git"].startswith("git+") else f"git+{spec['git']}"
                out.append(f"{name}{extras} @ {url}" + (f"@{ref}" if ref else ""))
                continue
            if isinstance(spec.get("url"), str):
                out.append(f"{name}{extras} @ {spec['url']}")
                continue
            spec = spec.get("version", "*")
        if isinstance(spec, str) and (version := _poetry_version(spec)) is not None:
            out.append(f"{name}{extras}{version}")
    return out


def _poetry_version(spec: str) -> str | None:
    """A PEP 440 specifier for a Poetry constraint: `^1.2` -> `>=1.2,<2.0`, `~1.2.3` ->
    `>=1.2.3,<1.3.0`, `1.2` -> `==1.2`, `*` -> no constraint; None when it cannot say."""
    if "|" in spec:
        return None  # alternatives have no single PEP 440 form
    parts = []
    for piece in (p.strip() for p in spec.split(",")):
        if piece in ("*", ""):
            continue
        if piece[0] in "^~" and piece[:2] != "~=":
            match = _VERSION.match(piece[1:].strip())
            if not match:
                return None
            numbers = [int(n) for n in match[1].split(".")]
            if piece[0] == "^":
                nonzero = [i for i, n in enumerate(numbers) if n]
                at = nonzero[0] if nonzero else len(numbers) - 1
            else:
                at = min(1, len(numbers) - 1)
            upper = [*numbers[:at], numbers[at] + 1] + [0] * (len(numbers) - at - 1)
            parts.append(f">={piece[1:].strip()},<{'.'.join(map(str, upper))}")
        elif piece[0].isdigit():
            parts.append(f"=={piece}")
        else:
            parts.append(piece.replace(" ", ""))
    return ",".join(parts)


def _read_setup_cfg(text: str | None, meta: ProjectMetadata) -> None:
    if text is None:
        return
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return
    if meta.name is None and parser.has_option("metadata", "name"):
        meta.name = normalize(parser.get("metadata", "name"))
    if parser.has_option("options", "install_requires"):
        meta.base += lines(parser.get("options", "install_requires"))
    if parser.has_section("options.extras_require"):
        for group, value in parser.items("options.extras_require"):
            meta.add_group(group, lines(value), extra=True)


def _read_setup_py(text: str | None, meta: ProjectMetadata) -> None:
    """Literal arguments of `setup(...)` only: setup.py is parsed, never run."""
    if text is None:
        return
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name != "setup":
            continue
        for keyword in node.keywords:
            try:
                value = ast.literal_eval(keyword.value)
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                continue
            if keyword.arg == "name" and isinstance(value, str) and meta.name is None:
                meta.name = normalize(value)
            elif keyword.arg == "install_requires":
                meta.base += _string_list(value)
            elif keyword.arg == "tests_require":
                meta.add_group("tests", _string_list(value))
            elif keyword.arg == "extras_require" and isinstance(value, dict):
                for group, requirements in value.items():
                    meta.add_group(str(group), _string_list(requirements), extra=True)


def _string_list(value: object) -> list[str]:
    if isinstance(value, str):
        return lines(value)
    return strings(list(value)) if isinstance(value, list | tuple) else []


def table(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def normalize(name: str) -> str:
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()
