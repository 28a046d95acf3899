"""The set-up planner: what to install and how to run the tests, read from what the repository
already says, most explicit first: `.github/patchbot.yml` (through the policy), its CI, tox or
nox, then the project's own metadata and requirement files."""

from __future__ import annotations

import configparser
import contextlib
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.repo_files import is_dir, is_file, read_repo_text
from bot.setup.ci import CiFindings, read_ci
from bot.setup.commands import InstallLine
from bot.setup.declared_deps import NAME, normalize
from bot.setup.detect import detect_runner
from bot.setup.model import Install, TestCommand
from bot.setup.paths import WORKSPACE
from bot.setup.sources import all_groups, read_project_findings, requirement_files
from bot.setup.tox import EnvFindings, read_nox, read_tox

PLANNER_VERSION = "3"
"""Part of the set-up cache key: bump when a change here changes what gets installed."""
BUILD_FILES = ("pyproject.toml", "setup.py", "setup.cfg")
LOCK_FILES = ("Pipfile", "Pipfile.lock", "poetry.lock", "uv.lock", "pdm.lock")
CONFIG_FILES = ("tox.ini", "noxfile.py", "pytest.ini", ".python-version")
MAX_INCLUDES = 50
"""Most requirement files followed through `-r` when reading which names they declare."""
_INCLUDE = re.compile(r"^(?:-r|--requirement|-c|--constraint)\s*=?\s*(\S+)")


@dataclass
class Planned:
    """The first plan, before any try: what to install, how to test, and where it came from."""

    install: Install
    test: TestCommand
    """From the CI, tox or nox; else the detected runner."""
    sources: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    """Repository files whose content keys the set-up cache."""
    ci_pythons: list[str] = field(default_factory=list)
    """Python versions the CI or tox envs test with."""


def plan(workspace: Path, *, setup_command: str | None = None) -> Planned:
    """The first set-up plan for the checkout at `workspace`; a configured command wins."""
    inputs = [f for f in (*BUILD_FILES, *LOCK_FILES, *CONFIG_FILES) if is_file(workspace, f)]
    inputs += requirement_files(workspace)
    ci = read_ci(workspace)
    if ci.source:
        inputs.append(ci.source)
    planned = Planned(install=Install(), test=TestCommand(runner="pytest"), ci_pythons=ci.pythons)
    if setup_command is not None and setup_command.strip():
        planned.install = Install(command=setup_command)
        planned.sources.append(".github/patchbot.yml setup_command")
    env = _env_findings(workspace, ci)
    explicit = InstallLine()
    if ci.source and (ci.installs or ci.test or ci.driver or ci.scripts):
        planned.sources.append(f"CI {ci.source}")
        for line in ci.installs:
            _merge_line(explicit, line)
    if env.source and (not ci.installs or ci.driver):
        planned.sources.append(env.source)
        _merge_line(explicit, env.install)
    project = read_project_findings(workspace)
    has_build = any(is_file(workspace, f) for f in BUILD_FILES)
    install = planned.install
    if install.command is None:
        said = explicit.files or explicit.requirements or explicit.groups or explicit.extras
        if said:
            install.extras = explicit.extras
            install.files = explicit.files
            install.constraints = explicit.constraints
            install.requirements = explicit.requirements + [
                r for g in explicit.groups for r in all_groups(workspace).get(g, [])
            ]
        else:
            planned.sources += project.sources
            install.extras = project.extras
            install.files = project.files
            install.requirements = [r for reqs in project.groups.values() for r in reqs]
        install.requirements = _without_self(install.requirements, project.metadata.name)
        install.project = has_build and not env.skip_install
        install.scripts = ci.scripts
    planned.test = _test_command(workspace, ci, env)
    if planned.test.runner == "pytest" and install.command is None:
        declared = declared_names(workspace, install, project.metadata.groups)
        if "pytest" not in declared:
            install.requirements.append("pytest")
    inputs += [f for f in install.files + install.constraints if f not in inputs]
    planned.inputs = sorted(set(inputs))
    if not planned.sources:
        planned.sources.append("detected (no CI, tox, nox or test dependencies found)")
    return planned


def _merge_line(into: InstallLine, line: InstallLine) -> None:
    into.project = into.project or line.project
    into.extras += [e for e in line.extras if e not in into.extras]
    into.requirements += [r for r in line.requirements if r not in into.requirements]
    into.files += [f for f in line.files if f not in into.files]
    into.constraints += [c for c in line.constraints if c not in into.constraints]
    into.groups += [g for g in line.groups if g not in into.groups]


def _without_self(requirements: list[str], name: str | None) -> list[str]:
    """Requirement strings without the project itself (installed from the checkout anyway)."""
    out = []
    for requirement in requirements:
        match = NAME.match(requirement)
        if match and name and normalize(match.group(1)) == name:
            continue
        if requirement not in out:
            out.append(requirement)
    return out


def declared_names(workspace: Path, install: Install, groups: dict[str, list[str]]) -> set[str]:
    """Normalised names of everything the install will ask for: requirement strings, the
    project's extras and the files (followed through `-r`)."""
    strings = list(install.requirements)
    for extra in install.extras:
        strings += groups.get(extra, [])
    pending, seen = list(install.files), set[str]()
    while pending and len(seen) < MAX_INCLUDES:
        rel = pending.pop()
        if rel in seen:
            continue
        seen.add(rel)
        for line in (read_repo_text(workspace, rel) or "").splitlines():
            line = line.split("#", 1)[0].strip()
            if match := _INCLUDE.match(line):
                pending.append(posixpath.normpath(posixpath.join(posixpath.dirname(rel), match[1])))
            elif line and not line.startswith("-"):
                strings.append(line)
    return {normalize(m.group(1)) for s in strings if (m := NAME.match(s))}


def find_test_command(workspace: Path) -> TestCommand:
    """How the repository runs its tests: its CI's test line, else its tox or nox test env's,
    else the detected runner with no arguments."""
    ci = read_ci(workspace)
    return _test_command(workspace, ci, _env_findings(workspace, ci))


def _test_command(workspace: Path, ci: CiFindings, env: EnvFindings) -> TestCommand:
    found = ci.test or env.test or TestCommand(runner=detect_runner(workspace))
    return _with_nose_settings(workspace, found) if found.nose else found


def _with_nose_settings(workspace: Path, test: TestCommand) -> TestCommand:
    """nose's `where` as pytest's path; with `all-modules`, every module is a test file."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    for name in ("setup.cfg", ".noserc", "nose.cfg"):
        with contextlib.suppress(configparser.Error):
            parser.read_string(read_repo_text(workspace, name) or "")
    args = list(test.args)
    where = parser.get("nosetests", "where", fallback="").strip()
    if where and not args:
        args.append(where)
    if parser.get("nosetests", "all-modules", fallback="").strip().lower() in ("1", "true"):
        args += ["-o", "python_files=*.py"]
    return test.model_copy(update={"args": args})


def _env_findings(workspace: Path, ci: CiFindings) -> EnvFindings:
    """The tox env or nox session that runs the tests (the one the CI names, if it does)."""
    driver, wanted = ci.driver or ("", "")
    env = read_tox(workspace, wanted) if driver != "nox" else EnvFindings()
    return env if env.source else read_nox(workspace, wanted)


def pythonpath(workspace: Path) -> list[str]:
    """Folders put first on the tests' PYTHONPATH, so they import the checkout's code (the
    agent's edits) before anything installed: `src/` where there is one, and the root."""
    return [f"{WORKSPACE}/src", WORKSPACE] if is_dir(workspace, "src") else [WORKSPACE]
