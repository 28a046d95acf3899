"""What to try next when a set-up try fails, read from what failed: each rule is general (it
names no repository) and changes the previous install in one way."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from bot.repo_files import is_dir, is_file, iter_repo_files, read_repo_text
from bot.setup.declared_deps import NAME, normalize
from bot.setup.install import inline_requirements
from bot.setup.model import Install

MODULE_DISTRIBUTIONS = {
    "yaml": "PyYAML", "attr": "attrs", "dateutil": "python-dateutil", "pkg_resources": "setuptools",
    "PIL": "Pillow", "cv2": "opencv-python", "sklearn": "scikit-learn", "bs4": "beautifulsoup4",
    "google.protobuf": "protobuf", "jwt": "PyJWT", "serial": "pyserial", "magic": "python-magic",
    "dns": "dnspython", "OpenSSL": "pyOpenSSL", "Crypto": "pycryptodome", "git": "GitPython",
    "tidylib": "pytidylib", "_pytest": "pytest", "docutils": "docutils", "zmq": "pyzmq",
    "multipart": "python-multipart", "dotenv": "python-dotenv", "slugify": "python-slugify",
    "typing_extensions": "typing-extensions", "importlib_metadata": "importlib-metadata",
}  # fmt: skip
"""Modules whose distribution is named otherwise: the ecosystem's well-known exceptions to
"a module `x_y` comes from the distribution `x-y`"."""
PYTEST_OPTION_PLUGINS = {
    "--cov": "pytest-cov", "-n": "pytest-xdist", "--numprocesses": "pytest-xdist",
    "--timeout": "pytest-timeout", "--benchmark": "pytest-benchmark", "--mypy": "pytest-mypy",
    "--doctest-plus": "pytest-doctestplus", "--reruns": "pytest-rerunfailures",
    "--randomly": "pytest-randomly", "--asyncio-mode": "pytest-asyncio", "--env": "pytest-env",
    "--codspeed": "pytest-codspeed", "--snapshot-update": "syrupy", "--hypothesis": "hypothesis",
}  # fmt: skip
"""pytest options (in a repository's addopts) and the plugin that provides each."""
STALE_DAYS = 180
"""A commit older than this may need its dependencies as they were on its day."""
_MISSING = re.compile(r"No module named '([A-Za-z0-9_.]+)'")
_SITE_PACKAGES = re.compile(r"site-packages/([A-Za-z0-9_]+)/")
_UNRECOGNIZED = re.compile(r"unrecognized arguments: (.*)")
_RESOLVER = re.compile(
    r"Because |depends on|you require|No matching distribution|Could not find a version|"
    r"not found in the package registry|The user requested|conflict|ResolutionImpossible|"
    r"Failed to build|Failed to prepare|Failed building wheel"
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass
class Context:
    """What the rules may look at besides the failed try's output."""

    workspace: Path
    installer: str
    commit_age_days: float
    commit_date: str
    """`YYYY-MM-DD` of the commit being set up."""


def next_install(
    install: Install,
    outcome: str,
    output: str,
    context: Context,
    tried: list[Install] | None = None,
) -> tuple[str, Install] | None:
    """The rule that applies to a failed try and the install it proposes (never one `tried`
    already), or None."""
    if install.command is not None:
        return None  # a maintainer's command is theirs: never second-guessed
    rules = (_install_rules if outcome == "install_failed" else _collection_rules)(
        install, output, context
    )
    for rule, proposal in rules:
        if proposal is not None and proposal != install and proposal not in (tried or []):
            return rule, proposal
    return None


def _install_rules(
    install: Install, output: str, context: Context
) -> list[tuple[str, Install | None]]:
    return [
        (
            "drop requirements the tests never import, which cannot be installed or built",
            _drop_unused(install, output, context),
        ),
        ("install the requirement files one by one instead of together", _separately(install)),
        (
            "resolve dependencies as of the commit's date",
            _as_of_date(install, context),
        ),
        (
            "build with the image's own setuptools (no build isolation)",
            _without_isolation(install),
        ),
        ("install the project as a regular package, not editable", _not_editable(install)),
        (
            "leave the project itself out (tests import it from the checkout)",
            _without_project(install),
        ),
        ("install nothing: the image's own packages (its pytest) only", _nothing(install)),
    ]


def _collection_rules(
    install: Install, output: str, context: Context
) -> list[tuple[str, Install | None]]:
    return [
        (
            "install the distribution of a module the tests could not import",
            _missing_module(install, output, context),
        ),
        (
            "install the pytest plugin that provides an option the configuration uses",
            _missing_plugin(install, output),
        ),
        (
            "leave out a requirement the tests never import whose code breaks the collection",
            _crashing_unused(install, output, context),
        ),
        (
            "resolve dependencies as of the commit's date",
            _as_of_date(install, context),
        ),
    ]


def _drop_unused(install: Install, output: str, context: Context) -> Install | None:
    """The names in the resolver's account of why it failed (only those the install asks
    for and no test imports are dropped, so naming too many is harmless)."""
    lines = [line for line in output.splitlines() if _RESOLVER.search(line)]
    named = {normalize(word) for line in lines for word in _WORD.findall(line)}
    return _drop(install, named, context)


def _drop(install: Install, names: set[str], context: Context) -> Install | None:
    """`install` without those of `names` it asks for (strings or files) that no test
    imports; None when there are none."""
    ours = {_name(r) for r in install.requirements}
    for rel in install.files:
        ours |= {_name(r) for r in inline_requirements(context.workspace, rel)}
    imported = imported_by_tests(context.workspace)
    candidates = (names & ours) - set(install.dropped)
    droppable = sorted(n for n in candidates if not _imported(n, imported))
    if not droppable:
        return None
    return install.model_copy(update={"dropped": [*install.dropped, *droppable]})


def _separately(install: Install) -> Install | None:
    if install.separate or len(install.files) < 2:
        return None
    return install.model_copy(update={"separate": True})


def _as_of_date(install: Install, context: Context) -> Install | None:
    """An old commit's dependencies as they were on its day (its build backends excepted)."""
    if install.exclude_newer or context.installer != "uv" or context.commit_age_days < STALE_DAYS:
        return None
    return install.model_copy(update={"exclude_newer": context.commit_date})


def _without_isolation(install: Install) -> Install | None:
    if not install.project or not install.build_isolation:
        return None
    return install.model_copy(update={"build_isolation": False})


def _not_editable(install: Install) -> Install | None:
    return (
        install.model_copy(update={"editable": False})
        if install.project and install.editable
        else None
    )


def _without_project(install: Install) -> Install | None:
    return install.model_copy(update={"project": False}) if install.project else None


def _nothing(install: Install) -> Install | None:
    """Offline, or when every install failed: the image's packages may be all it needs."""
    return (
        Install(project=False, editable=False)
        if install.project or install.requirements or install.files
        else None
    )


def _missing_module(install: Install, output: str, context: Context) -> Install | None:
    wanted = []
    for module in _MISSING.findall(output):
        top = module.split(".")[0]
        if _is_local(context.workspace, top):
            continue
        distribution = (
            MODULE_DISTRIBUTIONS.get(module)
            or MODULE_DISTRIBUTIONS.get(top)
            or top.replace("_", "-")
        )
        if _name(distribution) not in {_name(r) for r in install.requirements}:
            wanted.append(distribution)
    if not wanted:
        return None
    return install.model_copy(
        update={"requirements": [*install.requirements, *dict.fromkeys(wanted)]}
    )


def _missing_plugin(install: Install, output: str) -> Install | None:
    wanted = []
    for match in _UNRECOGNIZED.finditer(output):
        for option in match[1].split():
            name = option.split("=", 1)[0]
            plugin = PYTEST_OPTION_PLUGINS.get(name) or next(
                (p for o, p in PYTEST_OPTION_PLUGINS.items() if name.startswith(o + "-")), None
            )
            if plugin and plugin not in install.requirements:
                wanted.append(plugin)
    if not wanted:
        return None
    return install.model_copy(
        update={"requirements": [*install.requirements, *dict.fromkeys(wanted)]}
    )


def _crashing_unused(install: Install, output: str, context: Context) -> Install | None:
    """A requirement whose installed code is in the collection's traceback (a `coverage<4`
    that cannot run on this Python, loaded through pytest-cov) and that no test imports:
    dropped, so whatever needs it gets a version that works."""
    crashed = {normalize(m) for m in _SITE_PACKAGES.findall(output)}
    crashed |= {_name(d) for m, d in MODULE_DISTRIBUTIONS.items() if normalize(m) in crashed}
    return _drop(install, crashed - {"pytest"}, context)


def _is_local(workspace: Path, module: str) -> bool:
    """True for a module of the repository itself (a folder or file at its root or in src/)."""
    return any(
        is_dir(workspace, f"{base}{module}") or is_file(workspace, f"{base}{module}.py")
        for base in ("", "src/")
    )


def imported_by_tests(workspace: Path, limit: int = 500) -> set[str]:
    """Top-level modules the test files and conftest files import."""
    found: set[str] = set()
    count = 0
    for rel in iter_repo_files(workspace):
        name = rel.rsplit("/", 1)[-1]
        if not (name == "conftest.py" or (name.endswith(".py") and ("test" in rel.lower()))):
            continue
        count += 1
        if count > limit:
            break
        try:
            tree = ast.parse(read_repo_text(workspace, rel, limit=512 * 1024) or "")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def _imported(distribution: str, modules: set[str]) -> bool:
    """Whether any imported module plausibly comes from the distribution; type stubs never
    are (nothing imports them at run time)."""
    if distribution.startswith("types-") or distribution.endswith("-stubs"):
        return False
    names = {normalize(m) for m in modules}
    names |= {_name(d) for m, d in MODULE_DISTRIBUTIONS.items() if m.split(".")[0] in modules}
    base = distribution.removeprefix("types-").removesuffix("-stubs")
    return distribution in names or base in names or base.removeprefix("python-") in names


def _name(requirement: str) -> str:
    match = NAME.match(requirement)
    return normalize(match.group(1)) if match else ""
