"""Sandboxes read the image's /usr from a read-only volume that `patchbot images build` made,
never one a killed fill left half made."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import docker
import pytest
from docker.types import Mount

from bot.sandbox.config import SandboxConfig
from bot.sandbox.docker import open_sandbox
from bot.sandbox.environments import remove_volume
from bot.sandbox.images import find_image
from bot.sandbox.usr_volume import make_usr_volume, usr_mount, usr_volume_name

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_ready")]


async def test_a_sandbox_reads_usr_from_its_images_volume_and_cannot_write_it(
    example_repo: Callable[[str], Path],
) -> None:
    client = docker.from_env()
    name = usr_volume_name(find_image(client, "python"))
    async with open_sandbox(example_repo("calc"), SandboxConfig()) as sandbox:
        mounted = await sandbox.exec("grep ' /usr ' /proc/self/mountinfo")
        written = await sandbox.exec("touch /usr/patchbot-was-here")
        report = await sandbox.run_tests()
    assert f"/volumes/{name}/_data /usr ro," in mounted.stdout
    assert written.exit_code != 0 and "Read-only file system" in written.stderr
    assert report.cases and report.all_passed


def test_a_volume_a_killed_fill_left_is_made_again() -> None:
    client = docker.from_env()
    image = find_image(client, "python3.9")  # a sandbox opened meanwhile reads the image
    name = usr_volume_name(image)
    remove_volume(client, name + "-ready")
    remove_volume(client, name)
    client.volumes.create(name)  # half made: no `-ready`, and not the image's /usr
    client.containers.run(
        str(image.id),
        ["touch", "/half/left-by-a-killed-fill"],
        mounts=[Mount("/half", name, type="volume")],
        user="0:0",
        remove=True,
    )
    assert usr_mount(client, image) is None  # not used while it is not ready

    assert make_usr_volume(client, image)
    assert not make_usr_volume(client, image)  # made once
    mount = usr_mount(client, image)
    assert mount is not None and mount["ReadOnly"]
    listed = client.containers.run(
        str(image.id), ["ls", "/usr", "/usr/bin/python3"], mounts=[mount], remove=True
    )
    assert b"left-by-a-killed-fill" not in listed and b"/usr/bin/python3" in listed
