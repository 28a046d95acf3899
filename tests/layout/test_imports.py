"""The import rule of ARCHITECTURE.md: a package imports only packages in layers below its own
(or its own layer's shared modules listed as such), and no two packages import each other.
The known exceptions are listed with why; the list must shrink, never grow: a new upward
import fails here, and so does an exception that no longer exists (take it off the list)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"

LAYERS: list[set[str]] = [
    {"__main__", "testing", "eval"},  # what composes everything: the CLI, the test doubles
    {"web"},  # intake: the HTTP entry
    {"dashboard"},  # the web dashboard `web` serves under /ui/: runs, timelines, approvals, KPIs
    {"kpi"},  # KPIs, governance views and reports over recorded runs and outcomes
    {"handlers", "publish"},  # webhook handlers (enqueue); the run pipeline (a run's steps)
    {"runs"},  # durable runs: store, worker, the pipeline protocol
    {"solve"},  # issue -> verified patch
    {"agent"},  # the model loop and its tools
    {"setup", "sandbox"},  # a set-up sandbox
    {"policy"},  # what a repository allows
    {"github"},  # GitHub access and its conventions
    {"settings", "logs", "console"},  # the process's settings, logs, command-line basics
    {"trace"},  # a run's events, redacted
    {"errors"},  # the exceptions every layer raises
]

KNOWN = {
    # issue 15: what a policy means for the agent, the verifier and the sandbox moves to
    # where those are used (the pipeline builds them in one step).
    ("policy", "agent"),
    ("policy", "solve"),
    ("policy", "sandbox"),
    # issue 15: set-up and the sandbox become one package with one direction inside it.
    ("sandbox", "setup"),
    ("setup", "sandbox"),
    # issue 15: `patchbot setup doctor` reads the policy and uses solve's git helper.
    ("setup", "policy"),
    ("setup", "solve"),
}
"""(importer, imported) pairs that break the rule today, each to be removed by its issue."""


def layer_of(package: str) -> int:
    for index, layer in enumerate(LAYERS):
        if package in layer:
            return index
    raise AssertionError(f"bot/{package} is in no layer: add it to LAYERS and ARCHITECTURE.md")


def package_imports() -> dict[tuple[str, str], list[str]]:
    """(importer, imported) package pairs across bot/, with the files that make each."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(BOT.rglob("*.py")):
        parts = path.relative_to(BOT).with_suffix("").parts
        importer = parts[0]
        if importer == "__init__":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                pieces = name.split(".")
                if pieces[0] == "bot" and len(pieces) > 1 and pieces[1] != importer:
                    found[(importer, pieces[1])].append(str(path.relative_to(BOT.parent)))
    return found


def test_every_package_has_a_layer() -> None:
    packages = {p.stem if p.is_file() else p.name for p in BOT.iterdir()}
    packages -= {"__init__", "__pycache__", "py"}  # py.typed
    for package in sorted(packages):
        layer_of(package)


def test_imports_go_down_the_layers() -> None:
    upward = {
        pair: files
        for pair, files in package_imports().items()
        if layer_of(pair[1]) <= layer_of(pair[0]) and pair not in KNOWN
    }
    assert upward == {}, "imports against ARCHITECTURE.md's layers (importer, imported): files"


def test_the_known_exceptions_still_exist() -> None:
    gone = KNOWN - set(package_imports())
    assert gone == set(), "no longer imported: take these off KNOWN"
