"""Reading the shell lines a repository's CI, tox or nox runs: which of them install the test
environment (`pip install -e .[test]`, `uv pip install -r ...`) and which run the tests
(`coverage run -m pytest tests`), with the wrappers taken off."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from bot.setup.model import TestCommand

RUNNERS_NOT_INSTALLED = frozenset(
    {"pip", "setuptools", "wheel", "tox", "nox", "tox-uv", "tox-gh-actions", "uv", "virtualenv",
     "build", "twine", "pre-commit"}
)  # fmt: skip
"""Tools a CI installs to drive its run, never needed by the tests themselves."""
_PIP_VALUE_OPTIONS = frozenset(
    {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--only-binary",
     "--no-binary", "--python", "-t", "--target", "--prefix", "--root", "--platform",
     "--python-version", "--implementation", "--abi", "--progress-bar", "--src",
     "--upgrade-strategy", "--config-settings", "-C", "--resolution", "--exclude-newer",
     "--index-strategy", "--extra"}
)  # fmt: skip
_SELF = re.compile(
    r"^(?:file:)?(?:\.|\./|\$\{?\{?\s*github\.workspace\s*\}?\}?)(?P<extras>\[[^\]]*\])?$"
)
_WRAPPERS = {
    ("uv", "run"): {"--python", "-p", "--with", "--group", "--extra", "--env-file", "--directory"},
    ("poetry", "run"): set(),
    ("pdm", "run"): set(),
    ("pipenv", "run"): set(),
    ("hatch", "run"): set(),
    ("xvfb-run",): {"-a"},
    ("uvx",): {"--python", "-p", "--with", "--from"},
    ("pipx", "run"): {"--python", "--spec"},
}
_DROP_PYTEST = frozenset(
    {"-v", "-vv", "-vvv", "-q", "-qq", "-x", "--exitfirst", "-s", "--no-cov", "--color=yes",
     "--color=no", "--color=auto", "--codspeed", "-ra", "-rA", "-rs", "-rxXs", "-rfE", "-rf",
     "--strict", "--showlocals", "-l", "--no-header", "--cov-append"}
)  # fmt: skip
_DROP_PYTEST_WITH_VALUE = frozenset(
    {"-n", "--numprocesses", "--dist", "--maxprocesses", "--tb", "--color", "--cov",
     "--cov-report", "--cov-config", "--cov-fail-under", "--cov-context", "--basetemp",
     "--junitxml", "--junit-xml", "--durations", "--benchmark-json", "--timeout"}
)  # fmt: skip
_COVERAGE_VALUE_OPTIONS = frozenset(
    {"--rcfile", "--include", "--omit", "--source", "--concurrency", "--context", "--data-file"}
)
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass
class InstallLine:
    """What one `pip install` (or `uv pip install`) line asks for."""

    project: bool = False
    editable: bool = False
    extras: list[str] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    constraints: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


def segments(line: str) -> list[list[str]]:
    """The simple commands of a shell line, split at `&&`, `||`, `;` and `|`, each as words;
    a line the shell could not parse gives nothing."""
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:
        return []
    out: list[list[str]] = [[]]
    for word in words:
        if word and set(word) <= set(";&|"):
            out.append([])
        else:
            out[-1].append(word)
    return [words for words in out if words]


def parse_install(words: list[str]) -> InstallLine | None:
    """The install request of one simple command, or None when it installs nothing."""
    words = without_env(words)
    for prefix in (["uv", "pip", "install"], ["pip", "install"], ["pip3", "install"]):
        if words[: len(prefix)] == prefix:
            return _install_args(words[len(prefix) :])
    if len(words) > 3 and re.fullmatch(r"python[0-9.]*", words[0]) and words[1:3] == ["-m", "pip"]:
        return _install_args(words[4:]) if words[3] == "install" else None
    return None


def _install_args(args: list[str]) -> InstallLine:
    found = InstallLine()
    position = 0
    while position < len(args):
        word = args[position]
        value = args[position + 1] if position + 1 < len(args) else ""
        position += 1
        name, _, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        if word in ("-e", "--editable") or name == "--editable":
            target = inline or value
            position += 0 if inline else 1
            if match := _SELF.match(target):
                found.project, found.editable = True, True
                found.extras += _extras(match["extras"])
            continue
        if word in ("-r", "--requirement", "-c", "--constraint", "--group") or name in (
            "--requirement",
            "--constraint",
            "--group",
        ):
            target = inline or value
            position += 0 if inline else 1
            kind = name if name.startswith("--") else word
            if kind in ("-r", "--requirement"):
                found.files.append(target)
            elif kind in ("-c", "--constraint"):
                found.constraints.append(target)
            else:
                found.groups.append(target.rpartition(":")[2])
            continue
        if word.startswith("-e") and len(word) > 2 and not word.startswith("--"):
            if match := _SELF.match(word[2:]):
                found.project, found.editable = True, True
                found.extras += _extras(match["extras"])
            continue
        if word.startswith("-r") and len(word) > 2:
            found.files.append(word[2:])
            continue
        if word in _PIP_VALUE_OPTIONS:
            position += 1
            continue
        if word.startswith("-"):
            continue
        if match := _SELF.match(word):
            found.project = True
            found.extras += _extras(match["extras"])
        elif "$" not in word and _package_name(word) not in RUNNERS_NOT_INSTALLED:
            found.requirements.append(word)
    return found


def _extras(text: str | None) -> list[str]:
    return [e.strip() for e in (text or "").strip("[]").split(",") if e.strip()]


def _package_name(requirement: str) -> str:
    match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else ""


def without_env(words: list[str]) -> list[str]:
    """The command after leading `A=1` assignments, `env A=1` and `sudo`."""
    words = list(words)
    while words and (_ASSIGNMENT.match(words[0]) or words[0] in ("env", "sudo", "exec")):
        words.pop(0)
    return words


def parse_test(words: list[str], source: str) -> TestCommand | None:
    """The test runner a simple command starts, wrappers taken off; None when it runs none."""
    env = {}
    while words and _ASSIGNMENT.match(words[0]):
        key, _, value = words[0].partition("=")
        env[key] = value
        words = words[1:]
    words = unwrap(without_env(words))
    if not words:
        return None
    head = words[0].rsplit("/", 1)[-1]
    if head in ("nosetests", "nose", "nose2"):
        paths = [w for w in words[1:] if not w.startswith("-") and "{" not in w and "$" not in w]
        return TestCommand(runner="pytest", args=paths, env=env, source=source, nose=True)
    if head in ("pytest", "py.test"):
        return TestCommand(runner="pytest", args=pytest_args(words[1:]), env=env, source=source)
    if head == "unittest":
        return TestCommand(runner="unittest", args=unittest_args(words[1:]), env=env, source=source)
    return None


def unwrap(words: list[str]) -> list[str]:
    """`uv run`, `poetry run`, `coverage run -m`, `python -m` and the like taken off."""
    changed = True
    while words and changed:
        changed = False
        for prefix, value_options in _WRAPPERS.items():
            if tuple(words[: len(prefix)]) == prefix:
                words = _skip_options(words[len(prefix) :], value_options)
                changed = True
        if re.fullmatch(r"python[0-9.]*", words[0] if words else "") or words[:1] == ["coverage"]:
            rest = words[1:]
            if words[0] == "coverage":
                if rest[:1] != ["run"]:
                    return []
                rest = _skip_options(rest[1:], _COVERAGE_VALUE_OPTIONS, stop_at="-m")
            else:
                rest = _skip_options(rest, {"-W", "-X"}, stop_at="-m")
            if rest[:1] == ["-m"]:
                words = rest[1:]
                changed = True
            elif rest and rest[0].endswith(("pytest", "py.test")):
                words = rest
                changed = True
    return words


def _skip_options(
    words: list[str], value_options: frozenset[str] | set[str], stop_at: str = ""
) -> list[str]:
    position = 0
    while position < len(words) and words[position].startswith("-") and words[position] != stop_at:
        position += 2 if words[position] in value_options else 1
    return words[position:]


def pytest_args(words: list[str]) -> list[str]:
    """pytest's arguments without the ones about output, coverage, workers and temp folders,
    and without tox placeholders (`{posargs}` gives its default, other `{...}` are dropped)."""
    out: list[str] = []
    words = [w for word in words for w in _posargs(word)]
    position = 0
    while position < len(words):
        word = words[position]
        position += 1
        name = word.split("=", 1)[0]
        if word in _DROP_PYTEST or "{" in word or "$" in word:
            continue
        if name in _DROP_PYTEST_WITH_VALUE:
            takes_next = "=" not in word and position < len(words)
            if takes_next and not (name == "--cov" and words[position].startswith("-")):
                position += 1
            continue
        if word.startswith("-n") and word[2:].isdigit():
            continue
        if word == "-p" and words[position : position + 1] == ["xdist"]:
            position += 1
            continue
        out.append(word)
    return out


def unittest_args(words: list[str]) -> list[str]:
    """unittest's arguments without verbosity and output options."""
    words = [w for word in words for w in _posargs(word)]
    return [w for w in words if w not in ("-v", "-q", "-b", "--buffer", "-f") and "{" not in w]


def _posargs(word: str) -> list[str]:
    """tox's `{posargs:DEFAULT}` as its default's words; other words unchanged."""
    match = re.fullmatch(r"\{posargs(?::(.*))?\}", word)
    if match is None:
        return [word]
    try:
        return shlex.split(match[1] or "")
    except ValueError:
        return []
