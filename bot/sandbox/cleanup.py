"""Removing what dead processes left: sandbox containers, checkout folders, scratch disks.

A worker sweeps when it starts and every few minutes (`sweep`); `patchbot sandbox gc` does
the same on demand. Only what belongs to a process that is certainly dead is removed (see
`bot.sandbox.owners`): several workers and servers may share a host, a data folder and a
Docker Engine, with other hosts too.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from bot.errors import SandboxError
from bot.sandbox.disk import release, scratch_root
from bot.sandbox.docker import docker_client
from bot.sandbox.environments import ENV_LABEL
from bot.sandbox.launch import INSTANCE_LABEL, LABEL, OWNER_LABEL
from bot.sandbox.owners import Verdict, folder_verdict, verdict
from bot.sandbox.usr_volume import remove_stale_usr_volumes

log = logging.getLogger(__name__)
_sweeping = threading.Lock()


@dataclass
class Removed:
    containers: int = 0
    volumes: int = 0
    folders: int = 0
    """Checkout folders (`DATA_DIR/work/<host>:<pid>`)."""
    disks: int = 0
    """Scratch disks (see `bot.sandbox.disk`), unmounted first."""

    def __str__(self) -> str:
        return (
            f"{self.containers} containers, {self.volumes} volumes, {self.folders} checkout "
            f"folders and {self.disks} scratch disks"
        )


def _remove_dead_folders(root: Path) -> int:
    """Remove the folders under `root` whose owner is dead, unmounting what is mounted there."""
    removed = 0
    if not root.is_dir():
        return removed
    for folder in root.iterdir():
        if folder.is_dir() and not folder.is_symlink() and folder_verdict(folder) is Verdict.DEAD:
            try:
                release(folder)  # never delete into a mount: unmount first
            except SandboxError as error:
                log.warning("left %s: %s", folder, error)
                continue
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def collect_garbage(
    client: docker.DockerClient,
    *,
    everything: bool = False,
    volumes: bool = False,
    work_root: Path | None = None,
) -> Removed:
    """Remove labelled containers whose owner is dead (all with `everything`), then the
    checkout folders under `work_root` and the scratch disks whose owner is dead; with
    `volumes`, also the cached set-up environments and any volume a killed set-up left. The
    `/usr` volumes of images that are gone go in any case."""
    removed = Removed()
    # One listing call: the SDK's `containers.list` inspects each container it lists, and
    # fails on one that a live worker removed in between.
    for container in client.api.containers(all=True, filters={"label": LABEL}):
        labels = container.get("Labels") or {}
        owner = verdict(labels.get(OWNER_LABEL, ""), labels.get(INSTANCE_LABEL))
        if everything or owner is Verdict.DEAD:
            try:
                client.api.remove_container(container["Id"], force=True, v=True)
            except docker.errors.APIError as error:  # gone, or another sweep removing it (409)
                if error.status_code not in (404, 409):
                    raise
                continue
            removed.containers += 1
    # After the containers: until they are gone they may write to the folders and disks.
    if work_root is not None:
        removed.folders = _remove_dead_folders(work_root)
    removed.disks = _remove_dead_folders(scratch_root())
    removed.volumes = remove_stale_usr_volumes(client)
    if volumes:
        for volume in client.volumes.list(filters={"label": LABEL}):
            if ENV_LABEL in (volume.attrs.get("Labels") or {}):
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    volume.remove(force=True)
                    removed.volumes += 1
    return removed


def sweep(work_root: Path) -> Removed:
    """What a worker does at its start and now and then: `collect_garbage` of the dead, one
    sweep at a time in a process (a server's workers all start at once)."""
    with _sweeping:
        return collect_garbage(docker_client(), work_root=work_root)
