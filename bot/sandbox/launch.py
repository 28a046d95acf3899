"""Starting and removing one hardened sandbox container, with the exec server inside."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Sequence
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.images import Image
from docker.types import LogConfig, Mount

from bot.sandbox.channel import ExecChannel
from bot.sandbox.config import SandboxConfig
from bot.sandbox.images import IMAGE_ENV
from bot.sandbox.protocol import WORKSPACE
from bot.sandbox.setup_plan import VENV

log = logging.getLogger(__name__)

LABEL = "patchbot.sandbox"
"""Every container and volume Patchbot makes carries this label."""
OWNER_LABEL = "patchbot.owner"
"""`<host>:<pid>` of the process that made a container: `patchbot sandbox gc` checks it."""
START_TIMEOUT = 30.0
SERVER_CAPABILITIES = ["SETUID", "SETGID", "SETPCAP", "KILL"]
"""All the exec server holds, as the container's root: to start each command as the sandbox's
user with no capability left, and to kill what it leaves (see exec_server.py)."""
_SERVER_SOURCE = (Path(__file__).parent / "exec_server.py").read_text()


def owner_label() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
            # stdlib only: no site; the commands run as `user`, the server as another
            command=["python3", "-I", "-S", "-c", _SERVER_SOURCE, str(user[0]), str(user[1])],
            user="0:0",
            working_dir=WORKSPACE,
            environment=environment,
            mounts=mounts,
            network_mode="bridge" if network else "none",
            read_only=True,
            tmpfs={"/tmp": f"rw,exec,nosuid,nodev,size={config.tmpfs_mb}m"},
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
