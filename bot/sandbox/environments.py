"""The set-up phase and its cache: the repository's dependencies installed into a volume at
`/env`, reused while the image, the set-up command, the user, the repository and the
dependency files stay the same."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import docker.errors
from docker.models.images import Image
from docker.types import Mount
from pydantic import BaseModel

from bot.errors import SetupFailed
from bot.sandbox.disk import private_folder
from bot.sandbox.launch import LABEL, Launcher, environment
from bot.sandbox.models import exec_result
from bot.sandbox.protocol import WORKSPACE
from bot.sandbox.repo_files import read_repo_bytes
from bot.sandbox.setup_plan import SetupPlan

ENV_LABEL = "patchbot.env"
HOST_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
CA_IN_SANDBOX = "/run/patchbot/ca.crt"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


class SetupInfo(BaseModel):
    """How the set-up phase went for this sandbox."""

    cached: bool
    """True when an environment for the same dependency files was reused."""
    duration: float
    """Seconds spent on set-up (checking the cache, or installing)."""
    volume: str | None
    """The Docker volume holding the environment, or None when there was nothing to install."""


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


@contextlib.asynccontextmanager
async def _key_lock(key: str) -> AsyncIterator[None]:
    """One set-up per dependency key at a time on this machine."""
    directory = private_folder("patchbot-locks")
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


async def prepare_environment(
    launcher: Launcher, workspace: Path, plan: SetupPlan, user: tuple[int, int]
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
    launcher: Launcher, workspace: Path, plan: SetupPlan, user: tuple[int, int], volume: str
) -> None:
    assert plan.command is not None  # open_sandbox sets up only a plan with a command
    config = launcher.config
    variables = environment(plan.pythonpath)
    mounts = [
        Mount(WORKSPACE, str(workspace), type="bind", read_only=True),
        Mount("/env", volume, type="volume"),
    ]
    if config.setup_network:
        extra_environment, extra_mounts = _network_access()
        variables.update(extra_environment)
        mounts += extra_mounts
    container, channel = await launcher.start(
        user=user, mounts=mounts, environment=variables, network=config.setup_network
    )
    try:
        answer = await channel.run(
            plan.command, cwd=WORKSPACE, timeout=config.setup_timeout, cap=config.output_cap
        )
        result = exec_result(answer, config, config.setup_timeout)
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
