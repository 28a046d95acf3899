"""What a command in the sandbox tries, as an attacker or on a bad day, and must not get:
taking the exec server down, outliving its own end, hitting a limit unnoticed, or filling the
host's disk (issue 14)."""

from __future__ import annotations

import shlex
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import pytest
import pytest_asyncio

from bot.errors import SetupFailed
from bot.sandbox.config import SandboxConfig
from bot.sandbox.docker import DockerSandbox, open_sandbox
from bot.sandbox.models import Limit

pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="module")]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
LIMITS = SandboxConfig(memory_mb=256, pids_limit=64, output_cap=4096)
LEFT = (
    "python3 -c 'import os; me = {1, os.getpid(), os.getppid()}; "
    'print([int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in me])\''
)
"""A command printing the processes other than PID 1 and itself: `[]` when there are none."""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox(
    docker_ready: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DockerSandbox]:
    workspace = tmp_path_factory.mktemp("hardening") / "calc"
    shutil.copytree(EXAMPLES / "calc", workspace)
    async with open_sandbox(workspace, LIMITS) as running:
        yield running


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


async def test_processes_a_command_started_are_gone_when_it_ends(sandbox: DockerSandbox) -> None:
    # a daemon: forks, leaves the session, forks again and lets its parent end
    daemon = (
        "import os\nif os.fork() == 0:\n os.setsid()\n"
        " os.fork() or os.execlp('sleep', 'sleep', '303')"
    )
    started = await sandbox.exec(
        f"(setsid sleep 300 &); setsid sleep 301 & nohup sleep 302 >/dev/null 2>&1 &"
        f' python3 -c "{daemon}"; echo started'
    )
    assert started.ok and started.stdout == "started\n"
    assert started.duration < 10
    left = await sandbox.exec(LEFT)
    assert left.stdout == "[]\n", left.stdout


async def test_processes_a_command_started_are_gone_at_its_timeout(sandbox: DockerSandbox) -> None:
    result = await sandbox.exec("(setsid sleep 300 &); setsid sleep 301 & sleep 302", timeout=1)
    assert result.timed_out and result.exit_code == 124
    assert result.limits == [Limit.TIME]
    left = await sandbox.exec(LEFT)
    assert left.stdout == "[]\n", left.stdout


async def test_fork_bomb_is_killed_and_named_as_the_pids_limit(sandbox: DockerSandbox) -> None:
    bomb = await sandbox.exec("bomb() { bomb | bomb & }; bomb; sleep 3; echo survived", timeout=30)
    assert Limit.PIDS in bomb.limits
    assert not bomb.ok
    assert "[patchbot: a process could not start: the limit of 64 processes" in bomb.stderr
    left = await sandbox.exec(LEFT)
    assert left.stdout == "[]\n" and left.ok  # nothing of the bomb left to eat the process limit


async def test_streamed_output_holds_to_the_cap(sandbox: DockerSandbox) -> None:
    chunks: list[tuple[str, str]] = []
    result = await sandbox.exec(
        "yes line | head -c 10000000; echo END",
        on_output=lambda stream, text: chunks.append((stream, text)),
    )
    streamed = "".join(text for stream, text in chunks if stream == "stdout")
    assert len(streamed.encode()) < LIMITS.output_cap + 100
    assert streamed == result.stdout  # the same text as the result: head, cut mark, tail
    assert "bytes truncated" in streamed and streamed.endswith("END\n")
    assert result.limits == [Limit.OUTPUT]
    assert "[patchbot: output over the cap: its middle was cut out]" in result.stderr
    assert result.ok


async def test_memory_limit_is_named_in_the_result(sandbox: DockerSandbox) -> None:
    hog = await sandbox.exec(
        "python3 -c 'chunks = []\nwhile True: chunks.append(b\"x\" * 10**7)'", timeout=30
    )
    assert hog.limits == [Limit.MEMORY]
    assert "[patchbot: killed: out of memory (limit 256 MiB)]" in hog.stderr
    assert hog.exit_code == 137 and not hog.ok
    assert (await sandbox.exec("echo still here")).stdout == "still here\n"


def mounts_of(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as mountinfo:
        return [line for line in mountinfo if str(path) in line]


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
    assert (workspace / "kept.txt").read_text() == "kept\n"  # copied back at the end
    assert mounts_of(workspace) == []


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
    config = SandboxConfig(
        setup_command="dd if=/dev/zero of=/env/fill bs=1M count=100",
        env_disk_mb=32,
        cache_scope=uuid.uuid4().hex,  # a set-up of its own, never a cached one
    )
    with pytest.raises(SetupFailed) as failure:
        async with open_sandbox(workspace, config):
            pytest.fail("the sandbox must not start after a failed set-up")
    assert "No space left on device" in str(failure.value)
    assert "[patchbot: /env is full (limit 32 MiB)]" in str(failure.value)
    assert mounts_of(Path("/var/lib/docker/volumes")) == []


async def test_setup_environment_within_its_limit_reaches_the_tests(
    docker_ready: None, tmp_path: Path
) -> None:
    workspace = shutil.copytree(EXAMPLES / "calc", tmp_path / "calc")
    config = SandboxConfig(
        setup_command="mkdir /env/deps && echo installed > /env/deps/marker",
        env_disk_mb=32,
        cache_scope=uuid.uuid4().hex,
    )
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
