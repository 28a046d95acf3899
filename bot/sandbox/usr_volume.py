"""Each sandbox image's `/usr` in a read-only volume, which every sandbox mounts over its own.

Where the Docker Engine's storage driver is fuse-overlayfs (rootless Docker, Docker inside a
VM or container, as on this project's CI machines), a container's root filesystem is a FUSE
mount of its own that starts with cold caches, so a new sandbox's first test run spent about
a fifth of its time looking Python's files up through it. A volume is a plain folder of the
engine's host, shared by all containers and kept in its page cache.

The engine fills an empty volume from the image the first time it is mounted, so the volume
holds exactly the image's `/usr`. `patchbot images build` makes it for each image, marked done
by an empty `-ready` volume only once the fill succeeded; a sandbox mounts it read-only (in
set-up too) where it is ready, and reads `/usr` from its image where it is not.
"""

from __future__ import annotations

import docker
import docker.errors
from docker.models.images import Image
from docker.types import Mount

from bot.sandbox.environments import remove_volume, volume_exists
from bot.sandbox.launch import INSTANCE_LABEL, LABEL, OWNER_LABEL
from bot.sandbox.owners import this_process

USR_LABEL = "patchbot.usr"
"""On the volume: the id of the image whose `/usr` it holds."""
_READY = "-ready"


def usr_volume_name(image: Image) -> str:
    return f"patchbot-usr-{str(image.id).removeprefix('sha256:')[:24]}"


def usr_mount(client: docker.DockerClient, image: Image) -> Mount | None:
    """The read-only mount of `image`'s `/usr` volume, or None when it is not made."""
    name = usr_volume_name(image)
    if not volume_exists(client, name + _READY):
        return None
    return Mount("/usr", name, type="volume", read_only=True)


def make_usr_volume(client: docker.DockerClient, image: Image) -> bool:
    """Make `image`'s `/usr` volume unless it is made; True when it was made now. A volume
    without its `-ready` mark is what a killed fill left: it is made again."""
    name = usr_volume_name(image)
    if usr_mount(client, image) is not None:
        return False
    labels = {LABEL: "1", USR_LABEL: str(image.id)}
    remove_volume(client, name)
    client.volumes.create(name, labels=labels)
    me = this_process()
    client.containers.run(  # mounting the empty volume is what fills it; `true` runs nothing
        str(image.id),
        ["true"],
        mounts=[Mount("/usr", name, type="volume", read_only=True)],
        network_mode="none",
        read_only=True,
        cap_drop=["ALL"],
        user="65534:65534",
        remove=True,
        labels={LABEL: "1", OWNER_LABEL: me.label, INSTANCE_LABEL: me.instance},
    )
    client.volumes.create(name + _READY, labels=labels)
    return True


def remove_stale_usr_volumes(client: docker.DockerClient) -> int:
    """Remove the `/usr` volumes of images that no longer exist; how many."""
    removed = 0
    volumes = client.volumes.list(filters={"label": USR_LABEL})
    for volume in sorted(volumes, key=lambda v: v.name, reverse=True):  # `-ready` first
        try:
            client.images.get(volume.attrs["Labels"][USR_LABEL])
        except docker.errors.ImageNotFound:
            try:
                remove_volume(client, volume.name)
            except docker.errors.APIError:  # in use (409): left for the next sweep
                continue
            removed += 1
    return removed
