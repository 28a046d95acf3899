"""The set-up phase inside its container: the checkout copied to a writable `/workspace`, then
tries (venv, install, the repository's scripts, the collection check) until the suite
collects; what the set-up wrote into the tree that the project's `.gitignore` ignores (a
version file, egg-info, compiled translations) is kept in `/env/overlay` for every later
checkout."""

from __future__ import annotations

import shlex
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.sandbox.channel import ExecChannel
from bot.sandbox.config import SandboxConfig
from bot.sandbox.models import ExecResult, exec_result
from bot.sandbox.setup_collect import collect_command, decisive_lines, read_collection
from bot.sandbox.testrun import TestPlan
from bot.setup.install import install_commands, venv_commands
from bot.setup.model import Install, SetupReport, Try
from bot.setup.paths import VENV, WORKSPACE
from bot.setup.progress import SetupProgress
from bot.setup.rules import Context, next_install

CHECKOUT = "/run/patchbot/checkout"
"""Where the checkout is mounted read-only during set-up; `/workspace` is a writable copy."""
OVERLAY = "/env/overlay"
ENV_FORMAT = "2"
"""Part of the set-up cache key: bump when what a finished environment holds changes
(2: the venv's bytecode is compiled)."""
MAX_TRIES = 6
COLLECT_TIMEOUT = 300.0
COMPILE_TIMEOUT = 600.0
COMPILE = f"{VENV}/bin/python -I -m compileall -q -j 0 {VENV}/lib"
"""Every later sandbox mounts the venv read-only and writes no bytecode, so what set-up does
not compile is compiled again by every test run (importing pytest from source alone costs
0.3 s). A file that does not compile (a Python 2 module in a package) is left as it is."""
_OVERLAY_SCRIPT = """\
import os, shutil, subprocess, sys
checkout, workspace, overlay = sys.argv[1:4]
skip = {".git", "__pycache__", "build", "dist", ".eggs", ".tox", ".nox", ".pytest_cache",
        ".mypy_cache", "node_modules", ".venv"}
new = []
for root, dirs, files in os.walk(workspace):
    dirs[:] = [d for d in dirs if d not in skip]
    rel_root = os.path.relpath(root, workspace)
    for name in files:
        rel = os.path.normpath(os.path.join(rel_root, name))
        if not name.endswith((".pyc", ".pyo")) and not os.path.lexists(os.path.join(checkout, rel)):
            new.append(rel)
if os.path.isdir(os.path.join(workspace, ".git")) and new:
    done = subprocess.run(["git", "-c", "safe.directory=*", "check-ignore", "--stdin", "-z"],
                          cwd=workspace, input="\\0".join(new).encode(), capture_output=True)
    ignored = set(done.stdout.decode().split("\\0"))
    new = [r for r in new if r in ignored or ".egg-info/" in r]
total = 0
for rel in new:
    total += os.path.getsize(os.path.join(workspace, rel))
    if total > 64 * 1024 * 1024:
        break
    os.makedirs(os.path.dirname(os.path.join(overlay, rel)), exist_ok=True)
    shutil.copy2(os.path.join(workspace, rel), os.path.join(overlay, rel), follow_symlinks=False)
    print(rel)
"""


class SetupPhase:
    """Runs tries in one set-up container and reports on them."""

    def __init__(
        self,
        channel: ExecChannel,
        workspace: Path,
        test_plan: TestPlan,
        *,
        config: SandboxConfig,
        commit_date: datetime | None,
        progress: SetupProgress | None = None,
    ) -> None:
        self.channel = channel
        self.workspace = workspace
        self.test_plan = test_plan
        self.config = config
        self.deadline = time.monotonic() + config.setup_timeout
        self.commit_date = commit_date
        self.progress = progress
        self._tried: list[Install] = []

    def say(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text)

    async def run(self, install: Install, report: SetupReport) -> SetupReport:
        """Try `install`, then what the rules propose after each failure, until the suite
        collects or no rule applies; `report` gets every try."""
        copied = await self._exec(f"cp -a {CHECKOUT}/. {WORKSPACE}/", 300)
        if not copied.ok:
            report.error = "could not copy the checkout: " + " ".join(decisive_lines(copied.stderr))
            return report
        which = await self._exec("command -v uv >/dev/null && echo uv || echo pip", 30)
        report.installer = which.stdout.strip() or "pip"
        age = (datetime.now(UTC) - self.commit_date).days if self.commit_date else 0
        context = Context(
            workspace=self.workspace,
            installer=report.installer,
            commit_age_days=age,
            commit_date=self.commit_date.strftime("%Y-%m-%d") if self.commit_date else "",
        )
        rule = "plan"
        while len(report.tries) < MAX_TRIES and time.monotonic() < self.deadline:
            attempt, output = await self._try(
                len(report.tries) + 1, rule, install, report.installer
            )
            report.tries.append(attempt)
            report.install = install
            self._tried.append(install)
            if attempt.outcome == "ok":
                report.ok = True
                await self._exec(
                    f"python3 -I -c {shlex.quote(_OVERLAY_SCRIPT)} {CHECKOUT} . {OVERLAY}",
                    120,
                )
                self.say("set-up: compiling the environment's bytecode")
                await self._exec(COMPILE, COMPILE_TIMEOUT)
                return report
            if attempt.outcome in ("no_tests", "timed_out"):
                break
            proposal = next_install(install, attempt.outcome, output, context, self._tried)
            if proposal is None:
                break
            rule, install = proposal
            self.say(f"set-up: try {len(report.tries) + 1}: {rule}")
        last = report.tries[-1] if report.tries else None
        report.error = _failure(last)
        return report

    async def _try(
        self, number: int, rule: str, install: Install, installer: str
    ) -> tuple[Try, str]:
        started = time.monotonic()
        commands = venv_commands(installer, install) + install_commands(
            installer, install, self.workspace
        )
        attempt = Try(number=number, rule=rule, commands=commands + install.scripts)
        self.say(f"set-up: try {number} ({rule}) with {installer}")
        for command in commands:
            result = await self._exec(command, None, show=True)
            if not result.ok:
                attempt.outcome = "timed_out" if result.timed_out else "install_failed"
                output = result.stdout + "\n" + result.stderr
                attempt.decisive = decisive_lines(output)
                attempt.seconds = round(time.monotonic() - started, 1)
                return attempt, output
        for script in install.scripts:  # a repository script that fails is noted, not fatal
            result = await self._exec(script, None, show=True)
            if not result.ok:
                attempt.decisive += [f"`{script}` exited {result.exit_code} (ignored)"]
                attempt.decisive += decisive_lines(result.stdout + "\n" + result.stderr, 2)
        if self.test_plan.runner == "command":  # a configured test command: run as it is, later
            attempt.seconds = round(time.monotonic() - started, 1)
            return attempt, ""
        check = collect_command(self.test_plan)
        attempt.commands.append(check)
        self.say(f"set-up: try {number}: collecting the tests")
        result = await self._exec(check, COLLECT_TIMEOUT)
        output = result.stdout + "\n" + result.stderr
        collected, errors = read_collection(self.test_plan.runner, result.exit_code, output)
        attempt.collected = collected
        attempt.seconds = round(time.monotonic() - started, 1)
        if result.timed_out:
            attempt.outcome = "timed_out"
        elif errors:
            attempt.outcome = "collection_errors"
        elif collected == 0:
            attempt.outcome = "no_tests"
        if attempt.outcome != "ok":
            attempt.decisive += decisive_lines(output)
        self.say(
            f"set-up: try {number}: {attempt.outcome}, {collected} tests collected "
            f"({attempt.seconds:.0f} s)"
        )
        return attempt, output

    async def _exec(self, command: str, timeout: float | None, *, show: bool = False) -> ExecResult:
        left = max(1.0, self.deadline - time.monotonic())
        limit = min(timeout, left) if timeout else left
        shown = [time.monotonic()]

        def summarise(stream: str, text: str) -> None:
            line = next((ln for ln in reversed(text.splitlines()) if ln.strip()), "")
            if line and time.monotonic() - shown[0] > 2:
                shown[0] = time.monotonic()
                self.say(f"set-up: {line.strip()[:120]}")

        answer = await self.channel.run(
            command,
            cwd=WORKSPACE,
            timeout=limit,
            cap=self.config.output_cap,
            on_output=summarise if show and self.progress else None,
        )
        return exec_result(answer, self.config, limit)


def _failure(last: Try | None) -> str:
    if last is None:
        return "the set-up ran out of time before its first try"
    what = {
        "install_failed": "the dependencies could not be installed",
        "collection_errors": "the tests could not be collected",
        "no_tests": "the test command found no tests",
        "timed_out": "the set-up timed out",
        "ok": "",
    }[last.outcome]
    line = last.decisive[-1] if last.decisive else ""
    if line.startswith("[patchbot:") and len(last.decisive) > 1:  # a limit explains the line before
        line = f"{last.decisive[-2]} {line}"
    return f"{what}: {line}" if line else what
