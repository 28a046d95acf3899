"""What a command in the sandbox tries, as an attacker or on a bad day, and must not get, in
sandboxes of their own: taking the exec server down, or filling the host's disk (issue 14)."""

from __future__ import annotations

import shlex
import shutil
import uuid
from pathlib import Path

import docker
import pytest

from bot.errors import SetupFailed
from bot.sandbox.config import SandboxConfig
from bot.sandbox.disk import scratch_root
from bot.sandbox.docker import UNLIMITED, as_started, open_sandbox
from bot.sandbox.images import image_tag
from bot.sandbox.models import Limit
from bot.sandbox.owners import OWNER_FILE, this_process

pytestmark = [pytest.mark.docker]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LIMITS = SandboxConfig(memory_mb=256, pids_limit=64, output_cap=4096)


async def test_no_signal_or_resource_limit_a_command_sends_takes_the_exec_server_down(
    docker_ready: None, tmp_path: Path
) -> None:
    workspace = shutil.copytree(EXAMPLES / "calc", tmp_path / "calc")
    attack = "\n".join(
        [
            "import os, resource",
            "refused = 0",
            "for number in range(1, 65):",
            "    try:",
            "        os.kill(1, number)",
            "    except OSError:",
            "        refused += 1",
            "for limit in (resource.RLIMIT_CPU, resource.RLIMIT_NOFILE, resource.RLIMIT_AS):",
            "    try:",
            "        resource.prlimit(1, limit, (1, 1))",
            "    except OSError:",
            "        refused += 1",
            "print('refused', refused)",
        ]
    )
    async with open_sandbox(workspace, LIMITS) as sandbox:
        command = f"python3 -c {shlex.quote(attack)}; kill -INT 1; sleep 2"
        result = await sandbox.exec(command, timeout=30)
        assert "refused 67" in result.stdout, result
        answers = [(await sandbox.exec(f"echo real {n}")).stdout for n in range(3)]
        assert answers == [f"real {n}\n" for n in range(3)]
        slow = await sandbox.exec("python3 -c 'sum(range(10**8))'; echo done", timeout=60)
        assert slow.stdout == "done\n"  # past any CPU second a prlimit could have set


def mounts_of(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as mountinfo:
        return [line for line in mountinfo if str(path) in line]


def disks_of_this_process() -> list[Path]:
    """The disk limits this process made and has not removed (see bot.sandbox.disk)."""
    mine = f"{this_process().label} "
    return [
        folder
        for folder in scratch_root().iterdir()
        if (folder / OWNER_FILE).read_text().startswith(mine)
    ]


def own_setup(command: str, **limits: int) -> SandboxConfig:
    """A set-up with `command` of its own: never one the cache has from another test."""
    return SandboxConfig(setup_command=command, cache_scope=uuid.uuid4().hex, **limits)


async def test_workspace_writes_stop_at_the_disk_limit(docker_ready: None, tmp_path: Path) -> None:
    workspace = shutil.copytree(EXAMPLES / "calc", tmp_path / "calc")
    async with open_sandbox(workspace, SandboxConfig(disk_mb=64)) as sandbox:
        kept = await sandbox.exec("echo kept > kept.txt")
        assert (workspace / "kept.txt").read_text() == "kept\n"  # the host sees it at once
        fill = await sandbox.exec("fallocate -l 1G big; dd if=/dev/zero of=fill bs=1M count=100")
        size = await sandbox.exec("du -sm /workspace | cut -f1")
    assert kept.ok
    assert fill.stderr.count("No space left on device") == 2
    assert fill.limits == [Limit.DISK]
    assert "[patchbot: /workspace is full (limit 64 MiB)]" in fill.stderr
    assert int(size.stdout) <= 64
    assert (workspace / "kept.txt").read_text() == "kept\n"
    assert mounts_of(workspace) == [] and disks_of_this_process() == []


async def test_tmp_writes_stop_at_its_size(docker_ready: None, tmp_path: Path) -> None:
    workspace = shutil.copytree(EXAMPLES / "calc", tmp_path / "calc")
    async with open_sandbox(workspace, SandboxConfig(tmpfs_mb=32)) as sandbox:
        fill = await sandbox.exec("dd if=/dev/zero of=/tmp/fill bs=1M count=100")
    assert "No space left on device" in fill.stderr
    assert fill.limits == [Limit.DISK]
    assert "[patchbot: /tmp is full (limit 32 MiB)]" in fill.stderr


async def test_setup_writes_to_env_stop_at_the_disk_limit(
    docker_ready: None, tmp_path: Path
) -> None:
    workspace = shutil.copytree(EXAMPLES / "calc", tmp_path / "calc")
    config = own_setup("dd if=/dev/zero of=/env/fill bs=1M count=100", env_disk_mb=32)
    with pytest.raises(SetupFailed) as failure:
        async with open_sandbox(workspace, config):
            pytest.fail("the sandbox must not start after a failed set-up")
    assert "No space left on device" in str(failure.value)
    assert "[patchbot: /env is full (limit 32 MiB)]" in str(failure.value)
    assert disks_of_this_process() == []


async def test_setup_environment_within_its_limit_reaches_the_tests(
    docker_ready: None, tmp_path: Path
) -> None:
    workspace = shutil.copytree(EXAMPLES / "calc", tmp_path / "calc")
    config = own_setup("mkdir /env/deps && echo installed > /env/deps/marker", env_disk_mb=32)
    async with open_sandbox(workspace, config) as sandbox:
        marker = await sandbox.exec("cat /env/deps/marker; df -m /env | tail -1")
        volume = sandbox.setup.volume
    assert marker.stdout.startswith("installed\n")
    client = docker.from_env()
    for name in (volume, f"{volume}-ready"):
        client.volumes.get(name).remove(force=True)


async def test_disk_limit_counts_what_the_sandbox_writes_not_the_checkout(
    docker_ready: None, tmp_path: Path
) -> None:
    workspace = shutil.copytree(EXAMPLES / "calc", tmp_path / "calc")
    (workspace / "data.bin").write_bytes(b"\0" * (24 << 20))
    async with open_sandbox(workspace, SandboxConfig(disk_mb=16)) as sandbox:
        read = await sandbox.exec("wc -c < data.bin")
        grow = await sandbox.exec("echo more >> data.bin")  # a changed file counts whole
        small = await sandbox.exec("echo small > small.txt")
    assert read.stdout == f"{24 << 20}\n"
    assert "No space left on device" in grow.stderr and Limit.DISK in grow.limits
    assert small.ok
    assert (workspace / "data.bin").stat().st_size == 24 << 20
    assert (workspace / "small.txt").read_text() == "small\n"
    assert mounts_of(workspace) == []


async def test_the_sandbox_reports_the_limits_the_engine_enforces(
    docker_ready: None, tmp_path: Path
) -> None:
    workspace = shutil.copytree(EXAMPLES / "calc", tmp_path / "calc")
    asked = SandboxConfig(memory_mb=512, pids_limit=128, cpus=1.0)
    async with open_sandbox(workspace, asked) as sandbox:
        got = sandbox.config
    assert (got.memory_mb, got.pids_limit, got.cpus) == (512, 128, 1.0)
    client = docker.from_env()
    bare = client.containers.create(image_tag("python"), "true")  # no limits at all
    try:
        unlimited = as_started(asked, bare)
    finally:
        bare.remove(force=True)
        client.close()
    assert unlimited.memory_mb == UNLIMITED and unlimited.pids_limit == UNLIMITED
    assert unlimited.memory_mb > asked.memory_mb  # the sandbox gate denies such a sandbox


async def test_the_exec_server_never_runs_a_python3_that_set_up_made(
    tmp_path: Path, docker_ready: None
) -> None:
    """Set-up runs the repository's code and makes /env/venv, first on the commands' PATH. A
    python3 planted there must not become the exec server, which alone answers for the
    commands (their output, the judge's records): the server's is the image's own."""
    from docker.types import Mount

    from bot.sandbox.docker import docker_client
    from bot.sandbox.images import find_image
    from bot.sandbox.launch import Launcher, environment
    from bot.sandbox.models import ExecResult

    planted = tmp_path / "env" / "venv" / "bin" / "python3"
    planted.parent.mkdir(parents=True)
    planted.write_text('#!/bin/sh\necho planted > /tmp/planted\nexec /usr/bin/python3 "$@"\n')
    for path in (planted, *planted.parents):
        path.chmod(0o755)
        if path == tmp_path:
            break
    client = docker_client()
    launcher = Launcher(client, find_image(client, "python"), SandboxConfig())
    container, channel = await launcher.start(
        user=(65534, 65534),
        mounts=[Mount("/env", str(tmp_path / "env"), type="bind", read_only=True)],
        environment=environment(["/workspace"]),
        network=False,
    )
    try:
        answer = await channel.run("cat /tmp/planted; echo $PATH", cwd="/", timeout=30, cap=4096)
    finally:
        await launcher.remove(container)
        await channel.close()
    said = ExecResult.model_validate(answer).stdout
    assert "planted" not in said
    assert said.startswith("/env/venv/bin:")  # the commands keep their PATH
