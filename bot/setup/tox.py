"""The test environment a repository's tox (tox.ini, `[tool.tox]` in pyproject.toml) or nox
(noxfile.py, read as a syntax tree and never run) describes: its deps, extras, dependency
groups, environment variables and test command."""

from __future__ import annotations

import ast
import configparser
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.repo_files import load_toml, read_repo_text
from bot.setup.commands import InstallLine, parse_install, parse_test, segments
from bot.setup.declared_deps import table
from bot.setup.model import TestCommand

TEST_FACTORS = ("tests", "test", "py", "unit")
"""Env names (or their factors) that mean "run the tests", in order of preference."""
_PY_FACTOR = re.compile(r"^py(?:3\d*|thon)?$|^3\.\d+$")


@dataclass
class EnvFindings:
    """One tox env or nox session that runs the tests."""

    source: str = ""
    """`tox.ini [testenv]`, `pyproject.toml [tool.tox]`, `noxfile.py tests`; empty if none."""
    install: InstallLine = field(default_factory=InstallLine)
    skip_install: bool = False
    test: TestCommand | None = None


def read_tox(workspace: Path, wanted: str = "") -> EnvFindings:
    """The test env of tox.ini, else of `[tool.tox]`; `wanted` is the env CI names, if any."""
    text = read_repo_text(workspace, "tox.ini")
    if text is not None:
        found = _tox_ini(text, wanted)
        if found.source:
            return found
    tox = table(table(load_toml(read_repo_text(workspace, "pyproject.toml")), "tool"), "tox")
    return _tox_toml(tox, wanted) if tox else EnvFindings()


def _tox_ini(text: str, wanted: str) -> EnvFindings:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return EnvFindings()
    if not parser.has_section("testenv") and not any(
        s.startswith("testenv:") for s in parser.sections()
    ):
        return EnvFindings()
    names = _expand_all(
        parser.get("tox", "envlist", fallback="") or parser.get("tox", "env_list", fallback="")
    )
    names += [s.split(":", 1)[1] for s in parser.sections() if s.startswith("testenv:")]
    env = _choose(names, wanted)
    factors = set(env.split("-")) if env else set()

    def value(key: str) -> str:
        for section in (f"testenv:{env}" if env else "", "testenv"):
            if section and parser.has_option(section, key):
                return parser.get(section, key)
        return ""

    found = EnvFindings(source=f"tox.ini [testenv{':' + env if env else ''}]")
    for line in _factor_lines(value("deps"), factors):
        if line.startswith("-"):
            parsed = parse_install(["pip", "install", *_split(line)])
            if parsed is not None:
                _merge(found.install, parsed)
        elif "{" not in line:
            found.install.requirements.append(line)
    found.install.extras += [
        e
        for line in _factor_lines(value("extras"), factors)
        for e in re.split(r"[,\s]+", line)
        if e
    ]
    found.install.groups += [
        g
        for line in _factor_lines(value("dependency_groups"), factors)
        for g in re.split(r"[,\s]+", line)
        if g
    ]
    found.skip_install = value("skip_install").strip().lower() == "true"
    setenv = dict(
        (k.strip(), v.strip())
        for line in _factor_lines(value("setenv") or value("set_env"), factors)
        if "=" in line and "{" not in line
        for k, v in [line.split("=", 1)]
    )
    for line in _factor_lines(value("commands"), factors):
        for words in segments(line):
            if (test := parse_test(words, found.source)) is not None and found.test is None:
                test.env = {**setenv, **test.env}
                found.test = test
    return found


def _tox_toml(tox: dict[str, Any], wanted: str) -> EnvFindings:
    envs = table(tox, "env")
    names = [str(n) for n in tox.get("env_list", []) if isinstance(n, str)] + list(envs)
    env = _choose(names, wanted)
    merged = {**table(tox, "env_run_base"), **(table(envs, env) if env else {})}
    found = EnvFindings(source="pyproject.toml [tool.tox]")
    for dep in merged.get("deps", []) if isinstance(merged.get("deps"), list) else []:
        if isinstance(dep, str) and not dep.startswith("-"):
            found.install.requirements.append(dep)
    found.install.extras += [e for e in merged.get("extras", []) if isinstance(e, str)]
    found.install.groups += [g for g in merged.get("dependency_groups", []) if isinstance(g, str)]
    found.skip_install = merged.get("skip_install") is True
    setenv = {str(k): str(v) for k, v in table(merged, "set_env").items() if isinstance(v, str)}
    for command in merged.get("commands", []) if isinstance(merged.get("commands"), list) else []:
        words = [w for w in command if isinstance(w, str)] if isinstance(command, list) else []
        if (test := parse_test(words, found.source)) is not None:
            test.env = {**setenv, **test.env}
            found.test = test
            break
    return found


def _choose(names: list[str], wanted: str) -> str:
    """The env that runs the tests: the one CI names, else the first whose name or factors say
    tests (`tests`, `py311-tests`, `py`); "" for the bare `[testenv]`."""
    if wanted and not _PY_FACTOR.match(wanted):
        return wanted
    for factor in TEST_FACTORS:
        for name in names:
            parts = name.split("-")
            if factor in parts or (factor == "py" and any(_PY_FACTOR.match(p) for p in parts)):
                return name
    return ""


def _expand_all(text: str) -> list[str]:
    out = []
    for item in re.split(r"[\n,](?![^{]*\})", text):
        out += _expand(item.strip())
    return [name for name in out if name]


def _expand(name: str) -> list[str]:
    """tox's brace expansion: `py3{10,11}-tests` is `py310-tests` and `py311-tests`."""
    match = re.search(r"\{([^{}]*)\}", name)
    if match is None:
        return [name]
    options = match[1].split(",")
    if len(options) == 1 and "-" in options[0]:  # a range: {10-13}
        low, _, high = options[0].partition("-")
        if low.isdigit() and high.isdigit():
            options = [str(n) for n in range(int(low), int(high) + 1)]
    return [
        e
        for option in options
        for e in _expand(name[: match.start()] + option.strip() + name[match.end() :])
    ]


def _factor_lines(text: str, factors: set[str]) -> list[str]:
    """The lines of a tox value that apply to an env with `factors` (`tests: pytest` applies
    to envs with the factor `tests`; `!lint:` to envs without `lint`)."""
    out = []
    text = re.sub(r"\{posargs(?::([^}]*))?\}", lambda m: m[1] or "", text)
    text = re.sub(r"\{envpython\}|\{envbindir\}/python", "python", text)
    text = text.replace("{toxinidir}/", "").replace("{toxinidir}", ".")
    text = re.sub(  # a condition inside a continued line: `pytest \ py39: --no-cov \ ...`
        r"\\\n\s*([\w.,!{}-]+):\s+([^\n\\]*)",
        lambda m: (
            " " + m[2]
            if any(_applies(c, factors) for o in m[1].split(",") for c in _expand(o))
            else " "
        ),
        text,
    )
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^([\w.,!{}-]+):\s+(.*)$", line)
        if match and not line.startswith(("-", "http")):
            conditions = [c for option in match[1].split(",") for c in _expand(option)]
            if not any(_applies(c, factors) for c in conditions):
                continue
            line = match[2]
        out.append(line)
    return out


def _applies(condition: str, factors: set[str]) -> bool:
    parts = condition.split("-")
    return all((p[1:] not in factors) if p.startswith("!") else p in factors for p in parts)


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:
        return []


def _merge(into: InstallLine, other: InstallLine) -> None:
    into.project = into.project or other.project
    into.editable = into.editable or other.editable
    into.extras += other.extras
    into.requirements += other.requirements
    into.files += other.files
    into.constraints += other.constraints
    into.groups += other.groups


def read_nox(workspace: Path, wanted: str = "") -> EnvFindings:
    """The test session of noxfile.py: its `session.install(...)` and `session.run(...)` calls
    with literal arguments (names bound to literal lists are followed)."""
    text = read_repo_text(workspace, "noxfile.py")
    try:
        tree = ast.parse(text or "")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return EnvFindings()
    sessions = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any("session" in ast.unparse(d) for d in node.decorator_list)
    }
    name = wanted if wanted in sessions else _choose(list(sessions), "")
    if name not in sessions:
        return EnvFindings()
    found = EnvFindings(source=f"noxfile.py {name}")
    names = _literal_names(tree.body) | _literal_names(sessions[name].body)
    for node in ast.walk(sessions[name]):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        words = _call_words(node, names)
        if node.func.attr == "install":
            parsed = parse_install(["pip", "install", *words])
            if parsed is not None:
                _merge(found.install, parsed)
        elif node.func.attr == "run" and found.test is None:
            found.test = parse_test(words, found.source)
    return found


def _literal_names(body: list[ast.stmt]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for node in body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and isinstance(node.value, ast.List | ast.Tuple):
                values = [e.value for e in node.value.elts if isinstance(e, ast.Constant)]
                if all(isinstance(v, str) for v in values):
                    out[target.id] = [str(v) for v in values]
    return out


def _call_words(node: ast.Call, names: dict[str, list[str]]) -> list[str]:
    """The call's arguments as command words: literals, named literal lists, and
    `dependency_groups(..., "g")` as `--group g`."""
    words: list[str] = []
    for arg in node.args:
        value = arg.value if isinstance(arg, ast.Starred) else arg
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            words.append(value.value)
        elif isinstance(value, ast.Name) and value.id in names:
            words += names[value.id]
        elif isinstance(value, ast.Call) and ast.unparse(value.func).endswith("dependency_groups"):
            for group in value.args[1:]:
                if isinstance(group, ast.Constant) and isinstance(group.value, str):
                    words += ["--group", group.value]
    return words
