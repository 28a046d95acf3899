"""What the project's own metadata says about testing: its extras and dependency groups named
for tests (PEP 621/735, Poetry, PDM, Hatch, setup.cfg, setup.py), and its one set of test
requirement files, chosen by name."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.repo_files import is_file, list_dir, load_toml, read_repo_text
from bot.setup.declared_deps import (
    ProjectMetadata,
    dependency_group,
    poetry_style,
    read_project,
    strings,
    table,
)

TEST_NAMES = ("test", "tests", "testing", "unit")
"""Extra, group and file-name words that mean "what the tests need"."""
DEV_NAMES = ("dev", "develop", "development")
"""Second choice when nothing is named for tests: development sets usually hold the test tools."""
NOT_TEST_WORDS = frozenset(
    {"doc", "docs", "lint", "min", "minimum", "minimal", "oldest", "lowest", "typing", "mypy",
     "types", "release", "bench", "benchmark", "benchmarks", "publish", "packaging", "style",
     "pre-commit", "format", "deploy", "rtd", "readthedocs", "coverage", "typecheck", "typechecks"}
)  # fmt: skip
"""File-name words of requirement sets that are not the test set (docs, a minimum-versions
file that conflicts with the latest one, linters)."""


@dataclass
class ProjectFindings:
    """The project's test extras and groups and its chosen requirement files."""

    metadata: ProjectMetadata
    extras: list[str] = field(default_factory=list)
    """Extras of the project named for tests (installed with it: `.[test]`)."""
    groups: dict[str, list[str]] = field(default_factory=dict)
    """Dependency groups (PEP 735, Poetry, PDM, Hatch env) named for tests, as requirement
    strings."""
    files: list[str] = field(default_factory=list)
    """The test requirement set: one file, chosen by name."""
    sources: list[str] = field(default_factory=list)


def read_project_findings(workspace: Path) -> ProjectFindings:
    data = load_toml(read_repo_text(workspace, "pyproject.toml"))
    found = ProjectFindings(metadata=read_project(workspace))
    extras = _extra_names(found.metadata, data)
    groups = all_groups(workspace, data)
    for names in (TEST_NAMES, DEV_NAMES):  # sets named for tests; else for development
        found.extras = _named(extras, names)
        found.groups = {name: groups[name] for name in _named(list(groups), names)}
        if found.extras or found.groups:
            break
    if found.extras:
        found.sources.append(f"project extras {', '.join(found.extras)}")
    if found.groups:
        found.sources.append(f"dependency groups {', '.join(found.groups)}")
    files = chosen_requirement_files(workspace)
    if files:
        found.files = files
        found.sources.append(f"requirements {', '.join(files)}")
    return found


def _named(names: list[str], wanted: tuple[str, ...]) -> list[str]:
    return [n for n in names if n.lower() in wanted]


def _extra_names(metadata: ProjectMetadata, data: dict[str, Any]) -> list[str]:
    """Every extra the project declares (PEP 621, setup.cfg, setup.py, Poetry)."""
    names = metadata.extras + list(table(table(table(data, "tool"), "poetry"), "extras"))
    return list(dict.fromkeys(names))


def all_groups(workspace: Path, data: dict[str, Any] | None = None) -> dict[str, list[str]]:
    """Every dependency group as requirement strings: PEP 735 (includes followed), Poetry
    groups and dev-dependencies, PDM dev-dependencies, Hatch env dependencies."""
    if data is None:
        data = load_toml(read_repo_text(workspace, "pyproject.toml"))
    tool = table(data, "tool")
    out: dict[str, list[str]] = {}
    pep735 = table(data, "dependency-groups")
    for name in pep735:
        out[str(name)] = dependency_group(pep735, str(name), set())
    poetry = table(tool, "poetry")
    for name, value in table(poetry, "group").items():
        if isinstance(value, dict):
            out.setdefault(str(name), poetry_style(table(value, "dependencies")))
    if table(poetry, "dev-dependencies"):
        out.setdefault("dev", poetry_style(table(poetry, "dev-dependencies")))
    for name, value in table(table(tool, "pdm"), "dev-dependencies").items():
        out.setdefault(str(name), strings(value))
    for name, value in table(table(tool, "hatch"), "envs").items():
        if isinstance(value, dict):
            deps = strings(value.get("dependencies")) + strings(value.get("extra-dependencies"))
            if deps:
                out.setdefault(str(name), deps)
    return out


def requirement_files(workspace: Path) -> list[str]:
    """Requirement files at the root and in `requirements/`, by the usual names."""
    found = []
    for folder in ("", "requirements/", "requirements-dev/", "ci/"):
        for name in list_dir(workspace, folder):
            rel = folder + name
            wanted = name.endswith((".txt", ".in")) and (
                bool(folder) or "requirements" in name or name.startswith("constraints")
            )
            if wanted and is_file(workspace, rel):
                found.append(rel)
    return sorted(found)


def chosen_requirement_files(workspace: Path) -> list[str]:
    """The one requirement set for tests: the file named for tests, else for development,
    else `requirements.txt`. A `.in` file is used only when it has no compiled `.txt`."""
    files = [f for f in requirement_files(workspace) if not f.startswith("constraints")]
    files = [f for f in files if not (f.endswith(".in") and f[:-3] + ".txt" in files)]
    candidates = []
    for rel in files:
        words = set(re.split(r"[-_.]+", posixpath.basename(rel).lower())) - {"txt", "in"}
        words |= set(posixpath.dirname(rel).split("/")) - {"", "requirements"}
        if words & NOT_TEST_WORDS:
            continue
        rank = 0 if words & set(TEST_NAMES) else 1 if words & set(DEV_NAMES) else 2
        if rank == 2 and words - {"requirements", "base", "install", "main"}:
            continue  # an unknown set (`requirements-aws.txt`) is no test set
        candidates.append((rank, rel.count("/"), rel))
    return [min(candidates)[2]] if candidates else []
