"""The Docker sandbox: a hardened container per run, with a cached set-up environment.

`open_sandbox` runs the set-up phase (installing the repository's dependencies into a volume
at `/env`, with network only where allowed) unless a volume for the same dependency files
exists, then starts the test container: commands run non-root with no capabilities, a
read-only root, limits on pids, memory, CPU and disk, and no network. Everything it creates
carries the `patchbot.sandbox` label and is removed on the way out, on errors and
cancellation too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container
from docker.types import Mount

from bot.errors import ConfigError, SandboxError
from bot.sandbox.channel import ExecChannel
from bot.sandbox.config import SandboxConfig
from bot.sandbox.deferred import clean_up
from bot.sandbox.environments import ENV_PREFIX, SetupInfo, environment_key, prepare_environment
from bot.sandbox.images import PYTHON_LABEL, built_images, find_image
from bot.sandbox.judged import (
    JUDGE_DIR,
    JUDGE_SOURCE,
    RECORDS_PATH,
    judged_command,
    new_key,
    read_records,
    start,
)
from bot.sandbox.launch import Launcher, environment
from bot.sandbox.models import FAILING, ExecResult, TestReport, exec_result
from bot.sandbox.mounted_copies import mounted_copy
from bot.sandbox.protocol import OutputSink
from bot.sandbox.setup_phase import OVERLAY
from bot.sandbox.testrun import PYTEST_OPTIONS, SYNTHETIC_ID, TestPlan, parse_report, plan_tests
from bot.sandbox.usr_volume import usr_mount
from bot.sandbox.workspace import sandbox_user
from bot.setup.interpreter import choose_python, declared_pythons
from bot.setup.model import SetupReport
from bot.setup.paths import WORKSPACE
from bot.setup.planner import Planned, plan, pythonpath
from bot.setup.progress import SETUP_PROGRESS, SetupProgress
from bot.telemetry.metrics import process_metrics

log = logging.getLogger(__name__)

_READ_CAP = 32 * 1024 * 1024
"""Bytes kept when Patchbot itself reads a file from the sandbox (a JUnit report)."""


def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as error:
        raise SandboxError(
            f"cannot reach the Docker Engine; start it, or point DOCKER_HOST at it ({error})"
        ) from error
    return client


class DockerSandbox:
    """A running test container with the exec server inside; see `bot.sandbox.Sandbox`."""

    def __init__(
        self,
        workspace: Path,
        config: SandboxConfig,
        container: Container,
        channel: ExecChannel,
        setup: SetupInfo,
    ) -> None:
        self.workspace = workspace
        self.config = config
        self.container = container
        self.setup = setup
        self._channel = channel

    @property
    def setup_report(self) -> SetupReport | None:
        return self.setup.report

    async def exec(
        self,
        command: str,
        *,
        timeout: float | None = None,
        workdir: str = WORKSPACE,
        on_output: OutputSink | None = None,
    ) -> ExecResult:
        return await self._exec(command, timeout, workdir, on_output, self.config.output_cap)

    async def _exec(
        self,
        command: str,
        timeout: float | None,
        workdir: str,
        on_output: OutputSink | None,
        cap: int,
        stdin: str | None = None,
    ) -> ExecResult:
        limit = timeout or self.config.exec_timeout
        answer = await self._channel.run(
            command, cwd=workdir, timeout=limit, cap=cap, on_output=on_output, stdin=stdin
        )
        return exec_result(answer, self.config, limit)

    async def read_file(self, path: str) -> str | None:
        """A file's text from inside the sandbox, or None when it does not exist."""
        result = await self._exec(f"cat -- {shlex.quote(path)}", 60, WORKSPACE, None, _READ_CAP)
        return result.stdout if result.exit_code == 0 else None

    async def run_tests(
        self,
        paths: Sequence[str] = (),
        *,
        timeout: float | None = None,
        reruns: int = 0,
        more: bool = False,
    ) -> TestReport:
        plan = plan_tests(self.workspace, configured=self.config.test_command, paths=paths)
        report = await self._run_plan(plan, timeout, reruns)
        if more and plan.runner == "pytest":  # the next run's judge imports pytest meanwhile
            await self._channel.prepare(_judged(plan), cwd=WORKSPACE)
        if plan.runner == "pytest" or not reruns:
            return report
        failing = [c.id for c in report.cases if c.outcome in FAILING and c.id != SYNTHETIC_ID]
        if failing and plan.runner == "unittest":  # no judge to rerun them in one process
            again = plan_tests(self.workspace, paths=failing)
            for _ in range(reruns):
                rerun = await self._run_plan(again, timeout, 0)
                report.cases += [case for case in rerun.cases if case.id in failing]
                report.duration += rerun.duration
        return report

    async def _run_plan(self, plan: TestPlan, timeout: float | None, reruns: int) -> TestReport:
        started = time.monotonic()
        # Kept whole up to the read cap: a runner without a report file (unittest) names each
        # test in its output, and a cut in the middle would lose tests from the verdict.
        limit = timeout or self.config.test_timeout
        if plan.runner == "pytest":  # the verdict comes from the judge's signed records
            key = new_key()
            begin = start(key, plan.args, reruns)
            result = await self._exec(_judged(plan), limit, WORKSPACE, None, _READ_CAP, begin)
            duration = time.monotonic() - started
            judged = read_records(await self.read_file(RECORDS_PATH), key)
            return parse_report(plan, result, None, duration=duration, judged=judged)
        command = plan.command
        if plan.junit_path:  # in the same command: one round trip to the exec server fewer
            command = f"rm -f {shlex.quote(plan.junit_path)}; {command}"
        result = await self._exec(command, limit, WORKSPACE, None, _READ_CAP)
        duration = time.monotonic() - started
        junit = await self.read_file(plan.junit_path) if plan.junit_path else None
        return parse_report(plan, result, junit, duration=duration)


def _judged(plan: TestPlan) -> str:
    """The judge's command for a pytest `plan`: the same for every selection of its tests."""
    return judged_command(plan.env, PYTEST_OPTIONS)


def _prepare(
    workspace: Path, config: SandboxConfig
) -> tuple[Path, Launcher, tuple[int, int], Planned]:
    workspace = workspace.resolve()
    if not workspace.is_dir():
        raise ConfigError(f"{workspace} is not a directory")
    client = docker_client()
    planned = plan(workspace, setup_command=config.setup_command)
    image = find_image(client, config.image)
    if config.images and image.labels.get(PYTHON_LABEL):
        choices = {config.image: image, **built_images(client, config.images)}
        pythons = {name: str(i.labels.get(PYTHON_LABEL)) for name, i in choices.items()}
        allowed, named = declared_pythons(workspace, planned.ci_pythons)
        chosen = choose_python(pythons, config.image, allowed, named)
        image = choices[chosen]
        config = config.model_copy(update={"image": chosen})
    launcher = Launcher(client, image, config, usr=usr_mount(client, image))
    user = sandbox_user(workspace)
    return workspace, launcher, user, planned


UNLIMITED = 2**31
"""What a limit the engine does not enforce counts as."""


def as_started(config: SandboxConfig, container: Container) -> SandboxConfig:
    """`config` with the limits the Docker Engine reports for the started container, so that
    the policy's sandbox gate judges what the run got, not what was asked for."""
    container.reload()
    host = container.attrs.get("HostConfig") or {}
    memory, pids, cpus = (int(host.get(key) or 0) for key in ("Memory", "PidsLimit", "NanoCpus"))
    return config.model_copy(  # no limit at all reads as more than any policy allows
        update={
            "memory_mb": memory // (1024 * 1024) if memory > 0 else UNLIMITED,
            "pids_limit": pids if pids > 0 else UNLIMITED,
            "cpus": cpus / 1e9 if cpus > 0 else float(os.cpu_count() or UNLIMITED),
        }
    )


@contextlib.asynccontextmanager
async def open_sandbox(
    workspace: Path,
    config: SandboxConfig,
    *,
    progress: SetupProgress | None = None,
    edited: Awaitable[None] | None = None,
) -> AsyncIterator[DockerSandbox]:
    """Set up (or reuse) the environment, start the test container, and always clean up.

    `workspace` is a copy Patchbot made: when Patchbot runs as root, the copy is handed to
    the sandbox's user so that it can write there (`sandbox_user`).
    `progress` hears what a first set-up is doing (default: the caller's `SETUP_PROGRESS`).
    `edited`: the caller is still changing `workspace` and says when it is done. The
    container starts on the tree as it is now and nothing runs in it until then; when the
    changes make it another environment (its dependency files, its layout), it is started
    again on the changed tree.
    """
    started = time.monotonic()
    workspace, launcher, user, planned = await asyncio.to_thread(_prepare, workspace, config)
    test_plan = plan_tests(workspace, configured=config.test_command)
    setup = await prepare_environment(
        launcher, workspace, planned, test_plan, user, progress or SETUP_PROGRESS.get()
    )
    metrics = process_metrics()
    metrics.sandbox_setup.labels("true" if setup.cached else "false").observe(setup.duration)
    mounts = [
        Mount(WORKSPACE, str(workspace), type="bind"),
        Mount(JUDGE_DIR, str(mounted_copy(JUDGE_SOURCE)), type="bind", read_only=True),
    ]
    if setup.volume:
        mounts.append(Mount("/env", setup.volume, type="volume", read_only=True))
    paths = pythonpath(workspace)
    starting = time.monotonic()
    container, channel = await launcher.start(
        user=user, mounts=mounts, environment=environment(paths), network=False
    )
    metrics.sandbox_start.observe(time.monotonic() - starting)
    restart = False
    try:
        if test_plan.runner == "pytest":  # the first test run's judge, pytest imported meanwhile
            await channel.prepare(_judged(test_plan), cwd=WORKSPACE)
        if edited is not None:
            await edited
            uid, _ = await asyncio.to_thread(sandbox_user, workspace)  # what the edits made too
            restart = not await asyncio.to_thread(
                _same_environment, workspace, launcher, setup, paths, uid
            )
        if not restart:
            # What set-up wrote into its copy of the tree (a version file, egg-info), never
            # over a file of the checkout.
            await channel.run(
                f"[ ! -d {OVERLAY} ] || cp -rn {OVERLAY}/. {WORKSPACE}/",
                cwd=WORKSPACE,
                timeout=60,
                cap=4096,
            )
            log.info("sandbox %s up in %.2f s", container.short_id, time.monotonic() - started)
            got = await asyncio.to_thread(as_started, launcher.config, container)
            yield DockerSandbox(workspace, got, container, channel, setup)
    finally:
        if restart:  # now, not deferred: the next sandbox mounts the same folder (and disk)
            await _remove(launcher, container, channel)
        else:  # in the background when the caller defers it (see `bot.sandbox.deferred`)
            await clean_up(_remove(launcher, container, channel))
    if restart:
        log.info("the edits made it another environment: starting the sandbox again")
        async with open_sandbox(workspace, config, progress=progress) as sandbox:
            yield sandbox


def _same_environment(
    workspace: Path, launcher: Launcher, setup: SetupInfo, paths: list[str], uid: int
) -> bool:
    """Whether the edited `workspace` would be started as it was: the same set-up environment
    and import paths."""
    planned = plan(workspace, setup_command=launcher.config.setup_command)
    key = environment_key(launcher.image, planned, launcher.config, workspace, uid)
    return setup.volume == f"{ENV_PREFIX}{key}" and pythonpath(workspace) == paths


async def _remove(launcher: Launcher, container: Container, channel: ExecChannel) -> None:
    try:
        await launcher.remove(container)  # first: it survives a second cancellation
    finally:
        await channel.close()
