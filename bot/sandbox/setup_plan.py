"""How to install a Python repository's dependencies into the sandbox's `/env` venv."""

from __future__ import annotations

import posixpath
import re
import shlex
from pathlib import Path

from pydantic import BaseModel

from bot.sandbox.declared_deps import NAME, TEST_GROUPS, normalize, read_project
from bot.sandbox.protocol import WORKSPACE
from bot.sandbox.repo_files import is_dir, is_file, list_dir, read_repo_text

VENV = "/env/venv"
"""The set-up environment; the test phase runs with its `bin` first on PATH."""
CREATE_VENV = f"python3 -m venv --system-site-packages --without-pip {VENV}"
PIP_INSTALL = f"{VENV}/bin/python -m pip install --no-input --disable-pip-version-check"
REWRITTEN_DIR = "/env/requirements"
"""Where requirement files that named the project itself are written without those lines."""
MAX_FILES = 200
"""Most requirement files followed through `-r` and `-c`."""
LOCK_FILES = ("Pipfile", "Pipfile.lock", "poetry.lock", "uv.lock")
"""Files that key the set-up cache; installation reads Pipfile's ranges, never the locks."""

_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+|(?<=-[rc]))(\S+)\s*$")
_SELF = re.compile(
    r"^(?:(?:-e|--editable)(?:\s*=\s*|\s+))?(?:file:)?(?:\.|\./|/workspace/?)"
    r"(?:\[(?P<extras>[^\]]*)\])?\s*(?:#.*)?$"
)


class SetupPlan(BaseModel):
    """What the set-up phase runs and which files decide whether its cached result still fits."""

    command: str | None
    """Shell command run with `bash -c` in the set-up container (cwd `/workspace`, mounted
    read-only; `/env` writable); None when there is nothing to do."""
    inputs: list[str]
    """Repository-relative paths of the files whose content keys the set-up cache."""
    pythonpath: list[str]
    """Directories inside the sandbox to put on PYTHONPATH for the test phase, in order."""


def plan_setup(workspace: Path, *, configured: str | None = None) -> SetupPlan:
    """Plan the set-up of the checkout at `workspace`; a configured command wins over detection.

    The project itself is never installed (tests import it from `/workspace` through
    PYTHONPATH) and nothing is written into `/workspace`. Every requirement string from the
    repository reaches the shell as one quoted argument.
    """
    inputs = _dependency_files(workspace)
    pythonpath = [f"{WORKSPACE}/src", WORKSPACE] if is_dir(workspace, "src") else [WORKSPACE]
    if configured is not None and configured.strip():
        activate = f'export VIRTUAL_ENV={VENV} PATH="{VENV}/bin:$PATH"'
        command = f"{CREATE_VENV} || exit $?\n{activate}\n{configured}"
        return SetupPlan(command=command, inputs=inputs, pythonpath=pythonpath)

    project = read_project(workspace)
    requirements = RequirementFiles(workspace)
    for rel in inputs:
        name = posixpath.basename(rel)
        if not rel.endswith(".txt") or "doc" in name:
            continue  # documentation requirements are heavy and tests rarely need them
        requirements.add(rel, constraint=name.startswith("constraints"))
    requirements.settle()
    extras = requirements.self_extras | set(TEST_GROUPS)
    strings = project.requirements(extras)
    args = requirements.pip_args() + [shlex.quote(s) for s in strings]
    command = CREATE_VENV
    if any(not arg.startswith("-c ") for arg in args):  # constraints alone make pip fail
        command = " && ".join([CREATE_VENV, *requirements.write_commands()])
        command += " && " + " ".join([PIP_INSTALL, *args])
    inputs = sorted(set(inputs) | requirements.files)
    return SetupPlan(command=command, inputs=inputs, pythonpath=pythonpath)


class RequirementFiles:
    """Requirement files to pass to pip with `-r`/`-c`, and the ones rewritten to drop lines
    that install the project itself (`-e .`), which would write into the read-only checkout."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.files: set[str] = set()
        self.self_extras: set[str] = set()
        self.top: list[tuple[str, bool]] = []
        self.rewritten: dict[str, str] = {}
        self._includes: dict[str, list[str]] = {}

    def add(self, rel: str, *, constraint: bool) -> None:
        self.top.append((rel, constraint))
        self._scan(rel)

    def settle(self) -> None:
        """Decide which files are rewritten and write their text; call after the last add."""
        changed = True
        while changed:  # a file including a rewritten file must point at the rewritten copy
            changed = False
            for name, included in self._includes.items():
                if name not in self.rewritten and any(i in self.rewritten for i in included):
                    self.rewritten[name] = ""
                    changed = True
        for name in self.rewritten:
            self.rewritten[name] = self._rewrite(name)

    def pip_args(self) -> list[str]:
        return [
            f"{'-c' if constraint else '-r'} {shlex.quote(self._location(rel, relative=True))}"
            for rel, constraint in self.top
        ]

    def write_commands(self) -> list[str]:
        commands = []
        for rel, text in sorted(self.rewritten.items()):
            target = f"{REWRITTEN_DIR}/{rel}"
            commands.append(f"mkdir -p {shlex.quote(posixpath.dirname(target))}")
            commands.append(f"printf '%s\\n' {shlex.quote(text)} > {shlex.quote(target)}")
        return commands

    def _location(self, rel: str, *, relative: bool = False) -> str:
        """Where pip finds the file: its rewritten copy, or the checkout (cwd `/workspace`)."""
        if rel in self.rewritten:
            return f"{REWRITTEN_DIR}/{rel}"
        return rel if relative else f"{WORKSPACE}/{rel}"

    def _scan(self, rel: str) -> None:
        if rel in self.files or len(self.files) >= MAX_FILES:
            return
        text = read_repo_text(self.workspace, rel)
        if text is None:
            return
        self.files.add(rel)
        self._includes[rel] = []
        for line in _logical_lines(text):
            if match := _SELF.match(line):
                self.rewritten.setdefault(rel, "")
                extras = match.group("extras") or ""
                self.self_extras |= {e.strip() for e in extras.split(",") if e.strip()}
            elif (match := _INCLUDE.match(line)) and (target := self._resolve(rel, match[2])):
                self._includes[rel].append(target)
                self._scan(target)

    def _rewrite(self, rel: str) -> str:
        text = read_repo_text(self.workspace, rel) or ""
        out = []
        for line in _logical_lines(text):
            if _SELF.match(line):
                continue
            if (match := _INCLUDE.match(line)) and (target := self._resolve(rel, match[2])):
                option = "-r" if match[1] in ("-r", "--requirement") else "-c"
                line = f"{option} {self._location(target)}"
            out.append(line)
        return "\n".join(out).replace("\x00", "")

    def _resolve(self, rel: str, target: str) -> str | None:
        """The repository-relative path of an included file, or None (a URL, or outside)."""
        if "://" in target or target.startswith("/"):
            return None
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
        return None if joined == ".." or joined.startswith("../") else joined


def _dependency_files(workspace: Path) -> list[str]:
    names = ["pyproject.toml", "setup.cfg", "setup.py", *LOCK_FILES]
    found = [n for n in names if is_file(workspace, n)]
    for folder in ("", "requirements/"):
        for name in list_dir(workspace, folder):
            rel = folder + name
            wanted = name.endswith(".txt") and (
                folder or name.startswith(("requirements", "constraints"))
            )
            if wanted and is_file(workspace, rel):
                found.append(rel)
    return sorted(found)


def declared_requirement_names(workspace: Path) -> set[str]:
    """Normalized names of the packages the repository declares anywhere we look."""
    strings = read_project(workspace).requirements(set(TEST_GROUPS))
    for rel in _dependency_files(workspace):
        if rel.endswith(".txt"):
            strings += _logical_lines(read_repo_text(workspace, rel) or "")
    return {normalize(m.group(1)) for s in strings if (m := NAME.match(s))}


def _logical_lines(text: str) -> list[str]:
    """Requirement-file lines joined at trailing backslashes, without comments or blanks."""
    joined = re.sub(r"\\\r?\n", " ", text)
    lines = (re.sub(r"(^|\s)#.*$", "", line).strip() for line in joined.splitlines())
    return [line for line in lines if line]
