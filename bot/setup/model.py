"""What the planner decides and what the set-up phase did: installs, tries and the report."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Install(BaseModel):
    """One way to install a repository's test environment into the set-up venv."""

    project: bool = True
    """Install the project itself (from `/workspace`)."""
    editable: bool = True
    """Install it editable (`-e .`); else as a regular package."""
    extras: list[str] = Field(default_factory=list)
    """The project's extras to install with it, e.g. `test`."""
    requirements: list[str] = Field(default_factory=list)
    """Requirement strings (PEP 508), from dependency groups, tox deps, CI `pip install` lines."""
    files: list[str] = Field(default_factory=list)
    """Repository-relative requirement files (`-r`)."""
    constraints: list[str] = Field(default_factory=list)
    """Repository-relative constraint files (`-c`)."""
    build_isolation: bool = True
    """Build in an isolated environment with the newest build backend; False builds with the
    venv's own (the image's setuptools, for a setup.py older than today's setuptools)."""
    separate: bool = False
    """Install each requirement file on its own, in order, instead of resolving them together."""
    exclude_newer: str | None = None
    """Ignore releases newer than this date (`YYYY-MM-DD`): resolve as of the commit's date."""
    dropped: list[str] = Field(default_factory=list)
    """Normalised names left out because they could not be installed and the tests never
    import them."""
    scripts: list[str] = Field(default_factory=list)
    """Repository commands the CI runs before its tests (e.g. `scripts/build-mo.sh`)."""
    command: str | None = None
    """A maintainer's own set-up command (`.github/patchbot.yml`): run as written, instead of
    everything above."""


class TestCommand(BaseModel):
    """The test runner and its arguments, from the repository's own configuration."""

    __test__ = False

    runner: Literal["pytest", "unittest"]
    args: list[str] = Field(default_factory=list)
    """Arguments after `python -m pytest` / `python -m unittest`, wrappers and report options
    stripped (`coverage run -m`, `--cov`, `-n auto`, `-v`)."""
    env: dict[str, str] = Field(default_factory=dict)
    """Environment the repository sets for its tests (tox `setenv`, CI `env:`, `A=1 pytest`)."""
    source: str = "detected"
    """Where it came from: `tox.ini`, `.github/workflows/ci.yml`, `detected`, ..."""
    nose: bool = False
    """The repository runs nose (dead since Python 3.10): pytest runs its suite instead, with
    nose's own settings (`where`, `all-modules`) turned into pytest arguments."""


class Try(BaseModel):
    """One attempt at setting up: what ran, for how long, and how it ended."""

    number: int
    rule: str
    """Why this try: `plan`, or the rule that changed the previous one."""
    commands: list[str]
    seconds: float = 0.0
    outcome: Literal["ok", "install_failed", "collection_errors", "no_tests", "timed_out"] = "ok"
    collected: int = 0
    """Tests the collection check found."""
    decisive: list[str] = Field(default_factory=list)
    """The output lines that decided the outcome (the error pip or pytest printed)."""


class SetupReport(BaseModel):
    """The set-up's account of itself: shown by `patchbot setup doctor`, kept in the trace and
    with the cached environment."""

    ok: bool = False
    sources: list[str] = Field(default_factory=list)
    """What the plan was read from, most explicit first."""
    python: str = ""
    """The interpreter version of the image used."""
    image: str = ""
    installer: str = ""
    """`uv` or `pip`."""
    install: Install | None = None
    """The install that worked (or the last one tried)."""
    test: TestCommand | None = None
    tries: list[Try] = Field(default_factory=list)
    cache_key: str = ""
    cached: bool = False
    """True when this report describes an environment made by an earlier run."""
    seconds: float = 0.0
    """Wall time of this run's set-up (the cache check when it was warm)."""
    error: str = ""
    """Why no plan worked, with the decisive line."""
