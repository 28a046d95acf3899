"""The shell commands that make the set-up venv and install one `Install` into it, with uv
(fast, and it can resolve as of a date) or with pip where the image has no uv."""

from __future__ import annotations

import posixpath
import re
import shlex
from pathlib import Path

from bot.repo_files import load_toml, read_repo_text
from bot.setup.declared_deps import NAME, normalize
from bot.setup.model import Install
from bot.setup.paths import VENV

NO_DATE_LIMIT = "2999-12-31"
"""The date given to build requirements when the rest is resolved as of a commit's date."""
MAX_INCLUDES = 50
"""Most requirement files inlined through `-r` when some of their lines are dropped."""
_INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)\s*=?\s*(\S+)$")


def venv_commands(installer: str, install: Install) -> list[str]:
    """A fresh venv at `/env/venv` that sees the image's packages (its pytest, offline); with
    pip inside for a maintainer's own command, which runs as they wrote it."""
    reset = f"rm -rf {VENV}"
    if installer == "uv" and install.command is None:
        return [reset, f"uv venv --quiet --system-site-packages --python /usr/bin/python3 {VENV}"]
    return [reset, f"python3 -m venv --system-site-packages {VENV}"]


def install_commands(installer: str, install: Install, workspace: Path) -> list[str]:
    """The commands that install `install` into the venv (cwd `/workspace`, writable)."""
    if install.command is not None:
        activate = f'export VIRTUAL_ENV={VENV} PATH="{VENV}/bin:$PATH"'
        return [f"{activate}\n{install.command}"]
    if installer == "uv":
        base = ["uv", "pip", "install", "--python", f"{VENV}/bin/python"]
        if install.exclude_newer:
            base += ["--exclude-newer", install.exclude_newer]
            for name in build_requirements(workspace):  # a build backend of its day may not
                base += ["--exclude-newer-package", f"{name}={NO_DATE_LIMIT}"]  # run on ours
    else:
        base = [f"{VENV}/bin/python", "-m", "pip", "install", "--no-input"]
    if not install.build_isolation:
        base.append("--no-build-isolation")
    strings, files = _requirements(install, workspace)
    constraints = [arg for c in install.constraints for arg in ("-c", c)]
    project = []
    if install.project:
        target = "." + (f"[{','.join(install.extras)}]" if install.extras else "")
        project = ["-e", target] if install.editable else [target]
    groups: list[list[str]] = [
        [*constraints, *(a for f in files for a in ("-r", f)), *project, *strings]
    ]
    if install.separate:  # each file on its own, in order, then the rest
        groups = [[*constraints, "-r", f] for f in files] + [[*constraints, *project, *strings]]
    return [shlex.join(base + args) for args in groups if args and args != constraints]


def build_requirements(workspace: Path) -> list[str]:
    """Names of what builds the project: its `[build-system] requires`, and setuptools and
    wheel (the default for a project without one)."""
    data = load_toml(read_repo_text(workspace, "pyproject.toml"))
    build = data.get("build-system")
    requires = build.get("requires") if isinstance(build, dict) else None
    names = (
        {_name(r) for r in requires if isinstance(r, str)} if isinstance(requires, list) else set()
    )
    return sorted((names | {"setuptools", "wheel"}) - {""})


def _requirements(install: Install, workspace: Path) -> tuple[list[str], list[str]]:
    """Requirement strings and files; a file with a dropped name is inlined without it."""
    if not install.dropped:
        return list(install.requirements), list(install.files)
    dropped = set(install.dropped)
    strings = [r for r in install.requirements if _name(r) not in dropped]
    for rel in install.files:
        strings += [r for r in inline_requirements(workspace, rel) if _name(r) not in dropped]
    return list(dict.fromkeys(strings)), []


def inline_requirements(workspace: Path, rel: str, seen: set[str] | None = None) -> list[str]:
    """A requirement file's requirement lines, its `-r` includes followed; options dropped."""
    seen = set() if seen is None else seen
    if rel in seen or len(seen) >= MAX_INCLUDES:
        return []
    seen.add(rel)
    out = []
    text = re.sub(r"\\\r?\n", " ", read_repo_text(workspace, rel) or "")
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if match := _INCLUDE.match(line):
            if match[1] in ("-r", "--requirement") and "://" not in match[2]:
                target = posixpath.normpath(posixpath.join(posixpath.dirname(rel), match[2]))
                if not target.startswith(("../", "/")):
                    out += inline_requirements(workspace, target, seen)
        elif line and not line.startswith("-"):
            out.append(line)
    return out


def _name(requirement: str) -> str:
    match = NAME.match(requirement)
    return normalize(match.group(1)) if match else ""
