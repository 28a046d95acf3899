"""The Docker sandbox: a hardened container per run, with a cached set-up environment.

`open_sandbox` runs the set-up phase (installing the repository's dependencies into a volume
at `/env`, with network only where allowed) unless a volume for the same dependency files
exists, then starts the test container: non-root, no capabilities, read-only root, limits
on pids, memory and CPU, and no network. Everything it creates carries the `patchbot.sandbox`
label and is removed on the way out, on errors and cancellation too.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import socket
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.images import Image
from docker.types import LogConfig, Mount
from pydantic import BaseModel

from bot.errors import ConfigError, SandboxError, SetupFailed
from bot.sandbox.channel import ExecChannel
from bot.sandbox.config import SandboxConfig
from bot.sandbox.images import find_image
from bot.sandbox.models import ExecResult, TestReport
from bot.sandbox.protocol import WORKSPACE, OutputSink
from bot.sandbox.repo_files import read_repo_bytes
from bot.sandbox.setup_plan import SetupPlan, plan_setup
from bot.sandbox.testrun import parse_report, plan_tests
from bot.sandbox.workspace import sandbox_user

log = logging.getLogger(__name__)

LABEL = "patchbot.sandbox"
OWNER_LABEL = "patchbot.owner"
ENV_LABEL = "patchbot.env"
START_TIMEOUT = 30.0
HOST_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
CA_IN_SANDBOX = "/run/patchbot/ca.crt"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
_SERVER_SOURCE = (Path(__file__).parent / "exec_server.py").read_text()
_READ_CAP = 32 * 1024 * 1024
"""Bytes kept when Patchbot itself reads a file from the sandbox (a JUnit report)."""


class SetupInfo(BaseModel):
    """How the set-up phase went for this sandbox."""

    cached: bool
    """True when an environment for the same dependency files was reused."""
    duration: float
    """Seconds spent on set-up (checking the cache, or installing)."""
    volume: str | None
    """The Docker volume holding the environment, or None when there was nothing to install."""


def owner_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
        request = {"command": command, "cwd": workdir, "timeout": limit, "cap": cap}
        answer = await self._channel.request(request, wait=limit, on_output=on_output)
        result = ExecResult.model_validate(answer)
        if answer.get("oom_killed"):
            note = f"\n[patchbot: killed: out of memory (limit {self.config.memory_mb} MiB)]"
            result.stderr += note
        if result.timed_out:
            result.stderr += f"\n[patchbot: killed after the {limit:g} s timeout]"
        return result

    async def read_file(self, path: str) -> str | None:
        """A file's text from inside the sandbox, or None when it does not exist."""
        quoted = path.replace("'", "'\\''")
        result = await self._exec(f"cat -- '{quoted}'", 60, WORKSPACE, None, _READ_CAP)
        return result.stdout if result.exit_code == 0 else None

    async def run_tests(
        self, paths: Sequence[str] = (), *, timeout: float | None = None
    ) -> TestReport:
        plan = plan_tests(self.workspace, configured=self.config.test_command, paths=paths)
        started = time.monotonic()
        if plan.junit_path:
            await self.exec(f"rm -f {plan.junit_path}", timeout=10)
        result = await self.exec(plan.command, timeout=timeout or self.config.test_timeout)
        duration = time.monotonic() - started
        junit = await self.read_file(plan.junit_path) if plan.junit_path else None
        return parse_report(plan, result, junit, duration=duration)


def _environment(pythonpath: Sequence[str]) -> dict[str, str]:
    """The sandbox's whole environment: built from nothing, never copied from the host."""
    return {
        "HOME": "/tmp/home",
        "LANG": "C.UTF-8",
        "PATH": "/env/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "VIRTUAL_ENV": "/env/venv",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": ":".join(pythonpath),
        "PIP_NO_INPUT": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


def _network_access() -> tuple[dict[str, str], list[Mount]]:
    """For a set-up phase with network: the host's CA bundle and proxy settings, no more."""
    environment = {name: os.environ[name] for name in PROXY_VARIABLES if name in os.environ}
    mounts = []
    bundle = os.environ.get("SSL_CERT_FILE") or next(
        (path for path in HOST_CA_BUNDLES if Path(path).is_file()), None
    )
    if bundle and Path(bundle).is_file():
        mounts.append(Mount(CA_IN_SANDBOX, bundle, type="bind", read_only=True))
        for name in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO"):
            environment[name] = CA_IN_SANDBOX
    return environment, mounts


class _Launcher:
    """Creates, starts and removes the containers of one sandbox."""

    def __init__(self, client: docker.DockerClient, image: Image, config: SandboxConfig) -> None:
        self.client = client
        self.image = image
        self.config = config

    async def start(
        self,
        *,
        user: tuple[int, int],
        mounts: list[Mount],
        environment: dict[str, str],
        network: bool,
    ) -> tuple[Container, ExecChannel]:
        config = self.config
        container: Container = await asyncio.to_thread(
            self.client.containers.create,
            str(self.image.id),
            command=["python3", "-I", "-S", "-c", _SERVER_SOURCE],  # stdlib only: no site
            user=f"{user[0]}:{user[1]}",
            working_dir=WORKSPACE,
            environment=environment,
            mounts=mounts,
            network_mode="bridge" if network else "none",
            read_only=True,
            tmpfs={"/tmp": f"rw,exec,nosuid,nodev,size={config.tmpfs_mb}m"},
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            pids_limit=config.pids_limit,
            mem_limit=f"{config.memory_mb}m",
            memswap_limit=f"{config.memory_mb}m",
            nano_cpus=int(config.cpus * 1e9),
            init=False,  # the exec server is PID 1 (see exec_server.py), not docker-init
            stdin_open=True,
            log_config=LogConfig(type=LogConfig.types.NONE),
            labels={LABEL: "1", OWNER_LABEL: owner_label()},
        )
        try:
            channel = await ExecChannel.attach(self.client, str(container.id))
            await asyncio.to_thread(container.start)
            greeting = await channel.ready(START_TIMEOUT)
        except BaseException:
            await self.remove(container)
            raise
        log.debug("sandbox %s ready as uid %s", container.short_id, greeting.get("uid"))
        return container, channel

    async def remove(self, container: Container) -> None:
        """Remove the container even while the caller is being cancelled."""
        removal = asyncio.ensure_future(asyncio.to_thread(self._remove_now, container))
        try:
            await asyncio.shield(removal)
        except asyncio.CancelledError:
            await removal
            raise

    @staticmethod
    def _remove_now(container: Container) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)


@contextlib.asynccontextmanager
async def _key_lock(key: str) -> AsyncIterator[None]:
    """One set-up per dependency key at a time on this machine."""
    directory = Path(tempfile.gettempdir()) / f"patchbot-locks-{os.geteuid()}"
    directory.mkdir(mode=0o700, exist_ok=True)
    if directory.is_symlink() or directory.stat().st_uid != os.geteuid():
        raise SandboxError(f"{directory} is not this user's own folder; remove it")
    # No following links, no truncating: the folder is in a shared /tmp.
    handle = os.open(directory / f"{key}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)


def environment_key(image: Image, plan: SetupPlan, workspace: Path, uid: int, scope: str) -> str:
    """Names the environment: the image, the set-up command, the user, the cache scope and
    the dependency files."""
    digest = hashlib.sha256(f"{image.id}\0{plan.command}\0{uid}\0{scope}\0".encode())
    for name in sorted(plan.inputs):
        content = read_repo_bytes(workspace, name) or b""  # no links, no FIFOs: untrusted tree
        digest.update(name.encode() + b"\0" + content + b"\0")
    return digest.hexdigest()[:24]


def _volume_exists(client: docker.DockerClient, name: str) -> bool:
    try:
        client.volumes.get(name)
    except docker.errors.NotFound:
        return False
    return True


def _remove_volume(client: docker.DockerClient, name: str) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        client.volumes.get(name).remove(force=True)


async def _prepare_environment(
    launcher: _Launcher, workspace: Path, plan: SetupPlan, user: tuple[int, int]
) -> SetupInfo:
    """Reuse the environment for these dependency files, or install it into a new volume.

    Volumes cannot be relabelled, so a finished environment `X` is marked by an empty
    volume `X-ready`, made only after set-up succeeded; an `X` without it is a leftover of
    a killed set-up and is made anew.
    """
    started = time.monotonic()
    client = launcher.client
    key = environment_key(launcher.image, plan, workspace, user[0], launcher.config.cache_scope)
    name = f"patchbot-env-{key}"
    labels = {LABEL: "1", ENV_LABEL: key}
    async with _key_lock(key):
        if await asyncio.to_thread(_volume_exists, client, f"{name}-ready"):
            return SetupInfo(cached=True, duration=time.monotonic() - started, volume=name)
        await asyncio.to_thread(_remove_volume, client, name)
        await asyncio.to_thread(client.volumes.create, name, labels=labels)
        try:
            await _run_setup(launcher, workspace, plan, user, name)
        except BaseException:
            await asyncio.to_thread(_remove_volume, client, name)
            raise
        await asyncio.to_thread(client.volumes.create, f"{name}-ready", labels=labels)
    return SetupInfo(cached=False, duration=time.monotonic() - started, volume=name)


async def _run_setup(
    launcher: _Launcher, workspace: Path, plan: SetupPlan, user: tuple[int, int], volume: str
) -> None:
    config = launcher.config
    environment = _environment(plan.pythonpath)
    mounts = [
        Mount(WORKSPACE, str(workspace), type="bind", read_only=True),
        Mount("/env", volume, type="volume"),
    ]
    if config.setup_network:
        extra_environment, extra_mounts = _network_access()
        environment.update(extra_environment)
        mounts += extra_mounts
    container, channel = await launcher.start(
        user=user, mounts=mounts, environment=environment, network=config.setup_network
    )
    try:
        request = {
            "command": plan.command,
            "cwd": WORKSPACE,
            "timeout": config.setup_timeout,
            "cap": config.output_cap,
        }
        answer = await channel.request(request, wait=config.setup_timeout)
        result = ExecResult.model_validate(answer)
        if not result.ok:
            tail = "\n".join((result.stdout + "\n" + result.stderr).strip().splitlines()[-20:])
            why = "timed out" if result.timed_out else f"exited with {result.exit_code}"
            hint = (
                "check the repository's dependency files, or set the policy's "
                "`setup_command`" + ("" if config.setup_network else " (set-up has no network)")
            )
            raise SetupFailed(f"set-up {why}; {hint}. Its last output:\n{tail}")
    finally:
        await launcher.remove(container)  # first: it survives a second cancellation
        await channel.close()


def _prepare(
    workspace: Path, config: SandboxConfig, take_ownership: bool
) -> tuple[Path, _Launcher, tuple[int, int], SetupPlan]:
    workspace = workspace.resolve()
    if not workspace.is_dir():
        raise ConfigError(f"{workspace} is not a directory")
    client = docker_client()
    launcher = _Launcher(client, find_image(client, config.image), config)
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
        setup = await _prepare_environment(launcher, workspace, plan, user)
    mounts = [Mount(WORKSPACE, str(workspace), type="bind")]
    if setup.volume:
        mounts.append(Mount("/env", setup.volume, type="volume", read_only=True))
    container, channel = await launcher.start(
        user=user, mounts=mounts, environment=_environment(plan.pythonpath), network=False
    )
    log.info("sandbox %s up in %.2f s", container.short_id, time.monotonic() - started)
    try:
        yield DockerSandbox(workspace, config, container, channel, setup)
    finally:
        await launcher.remove(container)  # first: it survives a second cancellation
        await channel.close()
