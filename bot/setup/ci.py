"""What a repository's GitHub Actions say about its tests: the job that runs them, the lines that
install its environment, the scripts it runs first, the test command and its Python versions."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.repo_files import is_file, list_dir, read_repo_text
from bot.setup.commands import (
    InstallLine,
    parse_install,
    parse_test,
    segments,
    unwrap,
    without_env,
)
from bot.setup.model import TestCommand
from bot.setup.sources import NOT_TEST_WORDS

WORKFLOWS = ".github/workflows"
MAX_WORKFLOW_BYTES = 256 * 1024
_NODES = 20000
"""Most YAML nodes walked per workflow (aliases can make a small file a huge tree)."""
_VERSION = re.compile(r"^(?:python|py|cpython-?)?(3\.\d{1,2})(?:\.\d+)?$")
GHA_EXPRESSION = "$GHA_EXPRESSION"
"""What a `${{ ... }}` expression reads as: one word, a variable no value is known of."""
_OTHER_WORKFLOWS = frozenset(
    {"release", "publish", "deploy", "docs", "doc", "downstream", "nightly", "bench",
     "benchmark", "codspeed", "lint", "codeql", "labels", "stale", "pages", "docset"}
)  # fmt: skip
_NOT_SCRIPTS = ("apt", "apt-get", "sudo", "brew", "choco", "echo", "cd", "export", "git", "curl",
                "wget", "mkdir", "rm", "cp", "mv", "ls", "cat")  # fmt: skip


@dataclass
class CiFindings:
    """The test job of the repository's workflows, as far as it can be read."""

    source: str = ""
    """The workflow file, e.g. `.github/workflows/tests.yml`; empty when none runs tests."""
    installs: list[InstallLine] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    test: TestCommand | None = None
    driver: tuple[str, str] | None = None
    """(`tox` or `nox`, the env or session it names, or ``) when the job runs through one."""
    pythons: list[str] = field(default_factory=list)
    """Python versions the job is set up with (`setup-python`, the matrix)."""


def read_ci(workspace: Path) -> CiFindings:
    """The first workflow job that runs the tests, or empty findings; workflows named for
    tests or CI are read first, those named for releases, docs or other projects last."""
    for name in sorted(list_dir(workspace, WORKFLOWS), key=_workflow_rank):
        rel = f"{WORKFLOWS}/{name}"
        if not name.endswith((".yml", ".yaml")) or not is_file(workspace, rel):
            continue
        text = read_repo_text(workspace, rel, limit=MAX_WORKFLOW_BYTES)
        try:
            data = yaml.safe_load(text or "")
        except (yaml.YAMLError, RecursionError, ValueError):
            continue
        jobs = data.get("jobs") if isinstance(data, dict) else None
        for job in (jobs or {}).values() if isinstance(jobs, dict) else []:
            if isinstance(job, dict) and (found := _read_job(workspace, job, rel)) is not None:
                return found
    return CiFindings()


def _read_job(workspace: Path, job: dict[str, Any], source: str) -> CiFindings | None:
    found = CiFindings(source=source)
    env = _env(job.get("env"))
    steps = job.get("steps")
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, dict):
            continue
        uses = step.get("uses")
        if isinstance(uses, str) and "setup-python" in uses:
            found.pythons += _versions(_walk(step.get("with"), _NODES))
        run = step.get("run")
        if not isinstance(run, str):
            continue
        step_env = {**env, **_env(step.get("env"))}
        for line in _lines(run):
            for words in segments(line):
                if (driver := _driver(words)) is not None:
                    if set(re.split(r"[-_,]", driver[1].lower())) & NOT_TEST_WORDS:
                        return None  # a docs or lint job
                    found.driver = driver
                    return _finish(found, job)
                test = parse_test(words, source)
                if test is not None:
                    test.env = {**step_env, **test.env}
                    found.test = test
                    return _finish(found, job)
                install = parse_install(words)
                if install is not None:
                    found.installs.append(install)
                elif _is_script(workspace, words):
                    found.scripts.append(shlex.join(words))
    return None


def _finish(found: CiFindings, job: dict[str, Any]) -> CiFindings:
    strategy = job.get("strategy")
    matrix = strategy.get("matrix") if isinstance(strategy, dict) else None
    if isinstance(matrix, dict):
        found.pythons += _versions(_walk(matrix, _NODES))
    found.pythons = sorted(set(found.pythons), key=lambda v: tuple(map(int, v.split("."))))
    return found


def _workflow_rank(name: str) -> tuple[int, str]:
    words = set(re.split(r"[-_.]+", name.lower()))
    if words & {"test", "tests", "ci", "main", "build", "check", "checks", "python", "tox"}:
        return 0, name
    return (2 if words & _OTHER_WORKFLOWS else 1), name


def _lines(run: str) -> list[str]:
    """A `run:` block's logical lines, continuation backslashes joined, each `${{ }}` one word."""
    joined = re.sub(r"\\\r?\n", " ", re.sub(r"\$\{\{.*?\}\}", GHA_EXPRESSION, run))
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def _driver(words: list[str]) -> tuple[str, str] | None:
    """(`tox` or `nox`, the env or session it names or ``) for a command that runs one,
    through `uvx`, `uv run`, `pipx run` or `python -m` too."""
    words = unwrap(without_env(words))
    if not words or words[0] not in ("tox", "nox"):
        return None
    flags = ("-e", "--env") if words[0] == "tox" else ("-s", "--session", "--sessions")
    for position, word in enumerate(words[1:-1], start=1):
        if word in flags and GHA_EXPRESSION not in words[position + 1]:
            return words[0], words[position + 1].split(",")[0]
    return words[0], ""


def _is_script(workspace: Path, words: list[str]) -> bool:
    """A repository script the job runs: `scripts/x.sh`, `bash tools/y.sh`, `python z.py`."""
    if not words or words[0] in _NOT_SCRIPTS:
        return False
    target = (
        words[1]
        if words[0] in ("bash", "sh") or re.fullmatch(r"python[0-9.]*", words[0])
        else words[0]
    )
    target = target.removeprefix("./")
    return ("/" in target and is_file(workspace, target)) or (
        target != words[0] and is_file(workspace, target)
    )


def _env(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {
        str(k): str(v)
        for k, v in value.items()
        if isinstance(v, str | int | float) and "${{" not in str(v)
    }


def _walk(value: object, budget: int) -> list[str]:
    """Every string and number in a YAML value, at most `budget` nodes deep in total."""
    out: list[str] = []
    pending = [value]
    while pending and budget > 0:
        budget -= 1
        item = pending.pop()
        if isinstance(item, dict):
            pending += list(item.values())
        elif isinstance(item, list):
            pending += item
        elif isinstance(item, float):
            out.append("3.10" if item == 3.1 else str(item))  # YAML reads 3.10 as 3.1
        elif isinstance(item, str | int) and not isinstance(item, bool):
            out.append(str(item))
    return out


def _versions(values: list[str]) -> list[str]:
    """`3.11`-style versions among `values` (`"3.12"`, `py3.10`, `3.13.1`)."""
    out = []
    for value in values:
        match = _VERSION.match(value.strip())
        if match:
            out.append(match[1])
    return out
