"""The `Sandbox` interface that the agent's tools and verification run through."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from bot.sandbox.config import SandboxConfig
from bot.sandbox.models import ExecResult, TestReport
from bot.setup.model import SetupReport
from bot.setup.paths import WORKSPACE

OutputSink = Callable[[str, str], None]
"""Receives `(stream, text)` chunks as a command prints them; stream is stdout or stderr."""


class Sandbox(Protocol):
    """A running, set-up sandbox with the repository at `/workspace` and no network."""

    @property
    def config(self) -> SandboxConfig | None:
        """The settings it runs with (the image chosen among those allowed), where the sandbox
        knows: what the policy's sandbox gate judges."""
        return None

    @property
    def setup_report(self) -> SetupReport | None:
        """How its environment was set up (the plan, each try), where the sandbox knows."""
        return None

    async def exec(
        self,
        command: str,
        *,
        timeout: float | None = None,
        workdir: str = WORKSPACE,
        on_output: OutputSink | None = None,
    ) -> ExecResult:
        """Run `command` with `bash -c` in `workdir`; kill its whole process tree at `timeout`."""
        ...

    async def run_tests(
        self,
        paths: Sequence[str] = (),
        *,
        timeout: float | None = None,
        reruns: int = 0,
        more: bool = False,
    ) -> TestReport:
        """Run the repository's tests (all, or those under `paths`) and parse them per test;
        with `reruns`, each failing test runs again that many times, with one case per run.
        `more`: another run will follow, so the sandbox may get ready for it meanwhile."""
        ...
