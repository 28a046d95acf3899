"""`patchbot sandbox gc`: remove sandboxes whose process died, and optionally the cache."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from bot.sandbox.environments import ENV_LABEL
from bot.sandbox.launch import LABEL, OWNER_LABEL


@dataclass
class Removed:
    containers: int = 0
    volumes: int = 0
    folders: int = 0


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
    client: docker.DockerClient,
    *,
    everything: bool = False,
    volumes: bool = False,
    work_root: Path | None = None,
) -> Removed:
    """Remove labelled containers whose owner is gone (all with `everything`), and the
    checkout folders under `work_root` whose owner is gone; with `volumes`, also the cached
    set-up environments and any volume a killed set-up left."""
    removed = Removed()
    if work_root is not None and work_root.is_dir():
        for folder in work_root.iterdir():
            if folder.is_dir() and not folder.is_symlink() and not _owner_alive(folder.name):
                shutil.rmtree(folder, ignore_errors=True)
                removed.folders += 1
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
