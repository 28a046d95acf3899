"""Starting and removing one hardened sandbox container, with the exec server inside."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.images import Image
from docker.types import LogConfig, Mount

from bot.errors import SandboxError
from bot.sandbox.channel import ExecChannel
from bot.sandbox.config import SandboxConfig
from bot.sandbox.deferred import to_the_end
from bot.sandbox.disk import Disk, attach, can_limit, detach
from bot.sandbox.images import IMAGE_ENV
from bot.sandbox.owners import this_process
from bot.setup.paths import VENV, WORKSPACE

log = logging.getLogger(__name__)

LABEL = "patchbot.sandbox"
"""Every container and volume Patchbot makes carries this label."""
OWNER_LABEL = "patchbot.owner"
"""`<host>:<pid>` of the process that made a container: `patchbot sandbox gc` checks it."""
INSTANCE_LABEL = "patchbot.owner.instance"
"""Tells the process that made a container from a later one with its pid (bot.sandbox.owners)."""
START_TIMEOUT = 30.0
SERVER_CAPABILITIES = ["SETUID", "SETGID", "SETPCAP", "KILL"]
"""All the exec server holds, as the container's root: to start each command as the sandbox's
user with no capability left, and to kill what it leaves (see exec_server.py)."""
_SERVER_SOURCE = (Path(__file__).parent / "exec_server.py").read_text()
_SERVER_START = 'p=$(PATH=/usr/local/bin:/usr/bin:/bin; command -v python3) && exec "$p" "$@"'
"""How the container starts the exec server: with the image's own python3, looked up without
the commands' PATH, whose first folder (`/env/venv/bin`) set-up made by running the
repository's code; the environment the commands get stays as it is."""


def owner_label() -> str:
    return this_process().label


@dataclass(frozen=True)
class _Limited:
    """A writable mount's disk limit, and the disk that holds it."""

    target: str
    size_mb: int
    disk: Disk


@functools.cache
def _warn_unlimited() -> None:
    log.warning(
        "the sandbox's /workspace and /env have no disk limit: mounting a size-limited "
        "filesystem over them needs root; run Patchbot as root to have one"
    )


def environment(pythonpath: Sequence[str]) -> dict[str, str]:
    """The sandbox's whole environment: built from nothing, never copied from the host. HOME,
    LANG and PATH (the set-up venv first) are the image's own."""
    return {
        **IMAGE_ENV,
        "VIRTUAL_ENV": VENV,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": ":".join(pythonpath),
        "PIP_NO_INPUT": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


class Launcher:
    """Creates, starts and removes the containers of one sandbox."""

    def __init__(
        self,
        client: docker.DockerClient,
        image: Image,
        config: SandboxConfig,
        *,
        usr: Mount | None = None,
    ) -> None:
        """`usr`: the image's `/usr` from a volume, mounted in every container it starts
        (see `bot.sandbox.usr_volume`)."""
        self.client = client
        self.image = image
        self.config = config
        self.usr = usr
        self._disks: dict[str, list[_Limited]] = {}

    async def start(
        self,
        *,
        user: tuple[int, int],
        mounts: list[Mount],
        environment: dict[str, str],
        network: bool,
        writable_workspace: bool = False,
    ) -> tuple[Container, ExecChannel]:
        """Start a container with the exec server. `writable_workspace`: an empty tmpfs at
        `/workspace` (set-up copies the checkout there and may write into the copy)."""
        config = self.config
        mounts = [*mounts, self.usr] if self.usr else mounts
        tmpfs = {"/tmp": f"rw,exec,nosuid,nodev,size={config.tmpfs_mb}m"}
        if writable_workspace:
            owner = f"uid={user[0]},gid={user[1]},mode=0755"
            tmpfs[WORKSPACE] = f"rw,exec,nosuid,nodev,size={config.tmpfs_mb}m,{owner}"
        attaching = asyncio.ensure_future(asyncio.to_thread(self._limit_disks, mounts))
        try:
            disks = await asyncio.shield(attaching)
        except asyncio.CancelledError:  # the mounts are made all the same: undo them
            await asyncio.to_thread(_detach_all, await attaching)
            raise
        me = this_process()
        try:
            container: Container = await asyncio.to_thread(
                self.client.containers.create,
                str(self.image.id),
                # stdlib only: no site; the commands run as `user`, the server as another
                command=[
                    "/bin/sh",
                    "-c",
                    _SERVER_START,
                    "sh",
                    *("-I", "-S", "-c", _SERVER_SOURCE, str(user[0]), str(user[1])),
                ],
                user="0:0",
                working_dir=WORKSPACE,
                environment=environment,
                mounts=mounts,
                network_mode="bridge" if network else "none",
                read_only=True,
                tmpfs=tmpfs,
                cap_drop=["ALL"],
                cap_add=SERVER_CAPABILITIES,
                security_opt=["no-new-privileges"],
                pids_limit=config.pids_limit,
                mem_limit=f"{config.memory_mb}m",
                memswap_limit=f"{config.memory_mb}m",
                nano_cpus=int(config.cpus * 1e9),
                init=False,  # the exec server is PID 1 (see exec_server.py), not docker-init
                stdin_open=True,
                log_config=LogConfig(type=LogConfig.types.NONE),
                labels={LABEL: "1", OWNER_LABEL: me.label, INSTANCE_LABEL: me.instance},
            )
        except BaseException:
            await asyncio.to_thread(_detach_all, disks)
            raise
        self._disks[str(container.id)] = disks
        channel: ExecChannel | None = None
        try:
            channel = await ExecChannel.attach(self.client, str(container.id))
            await asyncio.to_thread(container.start)
            greeting = await channel.ready(START_TIMEOUT)
            _check_disks(greeting, disks)
        except BaseException:
            await self.remove(container)
            if channel is not None:  # after: the engine ends the stream as the container goes
                await channel.close()
            raise
        log.debug("sandbox %s ready as uid %s", container.short_id, greeting.get("uid"))
        return container, channel

    def _limit_disks(self, mounts: list[Mount]) -> list[_Limited]:
        """A disk of its limit's size under each writable mount (see bot.sandbox.disk)."""
        writable = [mount for mount in mounts if not mount.get("ReadOnly")]
        if not writable:
            return []
        if not can_limit():
            _warn_unlimited()
            return []
        limits = {WORKSPACE: self.config.disk_mb, "/env": self.config.env_disk_mb}
        disks: list[_Limited] = []
        try:
            for mount in writable:
                target = mount["Target"]
                if target not in limits:
                    raise SandboxError(f"{target} would be writable with no disk limit")
                folder = Path(mount["Source"])
                if mount["Type"] == "volume":
                    folder = Path(self.client.volumes.get(mount["Source"]).attrs["Mountpoint"])
                disk = attach(folder.resolve(), limits[target])
                disks.append(_Limited(target, limits[target], disk))
        except BaseException:
            _detach_all(disks)
            raise
        return disks

    async def remove(self, container: Container) -> None:
        """Remove the container even while the caller is being cancelled."""
        await to_the_end(asyncio.to_thread(self._remove_now, container))

    def _remove_now(self, container: Container) -> None:
        try:
            try:
                container.remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as error:
                if error.status_code != 409:
                    raise
                _wait_until_gone(container)  # another sweep or `gc` is removing it
        finally:  # the container first: it writes to the disks until then
            _detach_all(self._disks.pop(str(container.id), []))


def _wait_until_gone(container: Container, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            container.reload()
        except docker.errors.NotFound:
            return
        time.sleep(0.2)
    raise SandboxError(f"container {container.short_id} still being removed after {timeout:g} s")


def _detach_all(disks: list[_Limited]) -> None:
    """Detach every disk, even when one fails; raise the first failure."""
    failures = []
    for limited in disks:
        try:
            detach(limited.disk)
        except SandboxError as error:
            failures.append(error)
    if failures:
        raise failures[0]


def _check_disks(greeting: dict[str, Any], disks: list[_Limited]) -> None:
    """Each limited mount, as the exec server sees it, is no bigger than its limit: the
    Docker Engine mounted the limited filesystem, not the folder under it."""
    sizes = greeting.get("disks") or {}
    for limited in disks:
        if sizes.get(limited.target, 0) > limited.size_mb << 20:
            raise SandboxError(
                f"the disk limit of {limited.target} did not reach the sandbox: the Docker "
                "Engine must run on this machine and see its mounts"
            )
