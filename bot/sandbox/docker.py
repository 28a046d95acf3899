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
import shlex
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container
from docker.types import Mount

from bot.errors import ConfigError, SandboxError
from bot.sandbox.channel import ExecChannel
from bot.sandbox.config import SandboxConfig
from bot.sandbox.environments import SetupInfo, prepare_environment
from bot.sandbox.images import find_image
from bot.sandbox.launch import Launcher, environment
from bot.sandbox.models import ExecResult, TestReport, exec_result
from bot.sandbox.protocol import WORKSPACE, OutputSink
from bot.sandbox.setup_plan import SetupPlan, plan_setup
from bot.sandbox.testrun import parse_report, plan_tests
from bot.sandbox.workspace import sandbox_user

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
    ) -> ExecResult:
        limit = timeout or self.config.exec_timeout
        answer = await self._channel.run(
            command, cwd=workdir, timeout=limit, cap=cap, on_output=on_output
        )
        return exec_result(answer, self.config, limit)

    async def read_file(self, path: str) -> str | None:
        """A file's text from inside the sandbox, or None when it does not exist."""
        result = await self._exec(f"cat -- {shlex.quote(path)}", 60, WORKSPACE, None, _READ_CAP)
        return result.stdout if result.exit_code == 0 else None

    async def run_tests(
        self, paths: Sequence[str] = (), *, timeout: float | None = None
    ) -> TestReport:
        plan = plan_tests(self.workspace, configured=self.config.test_command, paths=paths)
        command = plan.command
        if plan.junit_path:  # in the same command: one round trip to the exec server fewer
            command = f"rm -f {shlex.quote(plan.junit_path)}; {command}"
        started = time.monotonic()
        result = await self.exec(command, timeout=timeout or self.config.test_timeout)
        duration = time.monotonic() - started
        junit = await self.read_file(plan.junit_path) if plan.junit_path else None
        return parse_report(plan, result, junit, duration=duration)


def _prepare(
    workspace: Path, config: SandboxConfig, take_ownership: bool
) -> tuple[Path, Launcher, tuple[int, int], SetupPlan]:
    workspace = workspace.resolve()
    if not workspace.is_dir():
        raise ConfigError(f"{workspace} is not a directory")
    client = docker_client()
    launcher = Launcher(client, find_image(client, config.image), config)
    user = sandbox_user(workspace, take_ownership=take_ownership)
    return workspace, launcher, user, plan_setup(workspace, configured=config.setup_command)


@contextlib.asynccontextmanager
async def open_sandbox(
    workspace: Path, config: SandboxConfig, *, take_ownership: bool = True
) -> AsyncIterator[DockerSandbox]:
    """Set up (or reuse) the environment, start the test container, and always clean up.

    `take_ownership`: when Patchbot runs as root, hand the checkout to the sandbox's user so
    it can write there. Pass False to mount a tree you do not own; it then stays as it is.
    """
    started = time.monotonic()
    workspace, launcher, user, plan = await asyncio.to_thread(
        _prepare, workspace, config, take_ownership
    )
    setup = SetupInfo(cached=True, duration=0.0, volume=None)
    if plan.command is not None:
        setup = await prepare_environment(launcher, workspace, plan, user)
    mounts = [Mount(WORKSPACE, str(workspace), type="bind")]
    if setup.volume:
        mounts.append(Mount("/env", setup.volume, type="volume", read_only=True))
    container, channel = await launcher.start(
        user=user, mounts=mounts, environment=environment(plan.pythonpath), network=False
    )
    log.info("sandbox %s up in %.2f s", container.short_id, time.monotonic() - started)
    try:
        yield DockerSandbox(workspace, config, container, channel, setup)
    finally:
        await launcher.remove(container)  # first: it survives a second cancellation
        await channel.close()
