"""`patchbot sandbox gc`: remove sandboxes whose process died, and optionally the cache."""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass

import docker
import docker.errors

from bot.sandbox.docker import ENV_LABEL, LABEL, OWNER_LABEL


@dataclass
class Removed:
    containers: int = 0
    volumes: int = 0


def _owner_alive(owner: str) -> bool:
    """Whether the process that made a sandbox still runs (other hosts: assume it does)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def collect_garbage(
    client: docker.DockerClient, *, everything: bool = False, volumes: bool = False
) -> Removed:
    """Remove labelled containers whose owner is gone (all with `everything`); with
    `volumes`, also the cached set-up environments and any volume a killed set-up left."""
    removed = Removed()
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        if everything or not _owner_alive(container.labels.get(OWNER_LABEL, "")):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
                removed.containers += 1
    if volumes:
        for volume in client.volumes.list(filters={"label": LABEL}):
            if ENV_LABEL in (volume.attrs.get("Labels") or {}):
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    volume.remove(force=True)
                    removed.volumes += 1
    return removed
