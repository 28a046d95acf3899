"""The import rule of ARCHITECTURE.md: a package imports only packages in layers below its own,
never one of its own layer, wherever the import is (inside a function too). A new upward
import fails here, and so does a cycle between modules through the imports made as they load."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

BOT = Path(__file__).resolve().parents[2] / "bot"

LAYERS: list[set[str]] = [
    {"__main__", "testing"},  # what composes everything: the CLI, the test doubles
    {"web"},  # intake: the HTTP entry
    {"dashboard"},  # the web dashboard `web` serves under /ui/: runs, timelines, approvals, KPIs
    {"kpi"},  # KPIs, governance views and reports over recorded runs and outcomes
    {"handlers", "pipeline"},  # webhook handlers (enqueue); the run pipeline (a run's steps)
    {"eval"},  # solve on a repository's history: mined tasks, graded runs, scheduled evaluations
    {"runs"},  # durable runs: store, worker, the pipeline protocol
    {"solve"},  # issue -> verified patch
    {"agent"},  # the model loop and its tools
    {"sandbox"},  # the hardened container: set-up phase, cache, test runs, the exec server
    {"setup"},  # how a repository installs and tests, read from its files (no Docker)
    {"policy"},  # what a repository allows
    {"github"},  # GitHub access and its conventions
    {
        "settings",
        "logs",
        "console",
        "repo_files",
        "telemetry",
    },  # basics: settings, logs, CLI, checkout reads, metrics, spans
    {"trace"},  # a run's events, redacted
    {"errors"},  # the exceptions every layer raises
]


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
        if layer_of(pair[1]) <= layer_of(pair[0])
    }
    assert upward == {}, "imports against ARCHITECTURE.md's layers (importer, imported): files"


def module_graph() -> dict[str, set[str]]:
    """Each module of bot/ and the bot modules it imports when it is loaded (module level):
    `from package import module` counts as an import of that module."""
    modules: dict[str, Path] = {}
    for path in BOT.rglob("*.py"):
        parts = path.relative_to(BOT.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.parse(path.read_text(), str(path)).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                submodules = {f"{node.module}.{alias.name}" for alias in node.names}
                found |= (submodules & modules.keys()) or {node.module}
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
        graph[name] = (found & modules.keys()) - {name}
    return graph


def test_no_module_imports_itself_through_others() -> None:
    graph = module_graph()
    cycles = []
    for start in sorted(graph):
        stack, seen = [(start, (start,))], set()
        while stack:
            module, path = stack.pop()
            for imported in graph[module]:
                if imported == start:
                    cycles.append(" -> ".join((*path, start)))
                elif imported not in seen:
                    seen.add(imported)
                    stack.append((imported, (*path, imported)))
    assert cycles == [], "import cycles (a module imported again before it has loaded)"
