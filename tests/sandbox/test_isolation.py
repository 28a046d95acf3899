"""The sandbox's hardening, checked from inside a real container."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from bot.sandbox.config import SandboxConfig
from bot.sandbox.docker import DockerSandbox, open_sandbox
from bot.sandbox.models import Limit

pytestmark = [pytest.mark.docker, pytest.mark.asyncio(loop_scope="module")]

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CANARY = "PATCHBOT_TEST_CANARY_SECRET"
LEFT = (
    "python3 -c 'import os; me = {1, os.getpid(), os.getppid()}; "
    'print([int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in me])\''
)
"""A command printing the processes other than PID 1 and itself: `[]` when there are none."""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox(
    docker_ready: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[DockerSandbox]:
    workspace = tmp_path_factory.mktemp("isolation") / "calc"
    shutil.copytree(EXAMPLES / "calc", workspace)
    os.environ[CANARY] = "hunter2-must-not-leak"
    config = SandboxConfig(memory_mb=256, pids_limit=64, output_cap=4096)
    try:
        async with open_sandbox(workspace, config) as running:
            # The judge started with the sandbox waits for the first test run, the one process
            # that outlives a command: used up here, every process left is a command's.
            await running.run_tests()
            yield running
    finally:
        del os.environ[CANARY]


async def test_only_loopback_and_no_name_resolution(sandbox: DockerSandbox) -> None:
    interfaces = await sandbox.exec("ls /sys/class/net")
    assert interfaces.stdout.split() == ["lo"]
    lookup = await sandbox.exec("getent hosts pypi.org")
    assert lookup.exit_code != 0


async def test_runs_as_unprivileged_user_without_capabilities(sandbox: DockerSandbox) -> None:
    uid = await sandbox.exec("id -u")
    assert uid.stdout.strip() != "0"
    status = await sandbox.exec("grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs)' /proc/self/status")
    fields = dict(line.split(":\t") for line in status.stdout.strip().splitlines())
    assert int(fields["CapEff"], 16) == 0
    assert int(fields["CapBnd"], 16) == 0
    assert fields["NoNewPrivs"] == "1"


async def test_workspace_is_writable_and_root_is_not(sandbox: DockerSandbox) -> None:
    write = await sandbox.exec("touch /workspace/new-file && echo ok")
    assert write.stdout.strip() == "ok"
    assert (sandbox.workspace / "new-file").exists()
    root = await sandbox.exec("touch /etc/owned")
    assert root.exit_code != 0
    assert "Read-only file system" in root.stderr


async def test_host_environment_and_docker_socket_never_enter(sandbox: DockerSandbox) -> None:
    env = await sandbox.exec("env; ls -la /var/run/docker.sock /run/docker.sock 2>&1")
    assert CANARY not in env.stdout
    assert "hunter2" not in env.stdout
    assert "No such file" in env.stdout


async def test_fork_bomb_is_contained_and_reported(sandbox: DockerSandbox) -> None:
    bomb = await sandbox.exec("python3 -c 'import os\nwhile True: os.fork()'", timeout=10)
    assert not bomb.ok
    assert "Resource temporarily unavailable" in bomb.stderr or bomb.timed_out
    after = await sandbox.exec("ps -e --no-headers | wc -l")
    assert int(after.stdout) < 10  # the bomb's processes are gone and the sandbox still works


async def test_huge_output_is_capped_and_marked(sandbox: DockerSandbox) -> None:
    result = await sandbox.exec("yes line | head -c 5000000; echo END")
    assert result.truncated
    assert len(result.stdout) < 4096 + 100
    assert "bytes truncated" in result.stdout
    assert result.stdout.endswith("END\n")


async def test_commands_cannot_reach_the_exec_servers_channel(sandbox: DockerSandbox) -> None:
    forged = '{"id": 1000, "exit_code": 0, "stdout": "FORGED"}'
    attempt = await sandbox.exec(
        f"echo '{forged}' > /proc/1/fd/1; cat /proc/1/fd/0 & sleep 0.2; ls /proc/1/fd"
    )
    assert "Permission denied" in attempt.stderr
    answers = [(await sandbox.exec("echo real")).stdout for _ in range(3)]
    assert answers == ["real\n"] * 3


async def test_timeout_holds_when_a_command_closes_its_output(sandbox: DockerSandbox) -> None:
    result = await sandbox.exec("exec >/dev/null 2>&1; sleep 60", timeout=2)
    assert result.timed_out and result.exit_code == 124
    assert result.duration < 10


async def test_finished_background_processes_are_reaped(sandbox: DockerSandbox) -> None:
    await sandbox.exec("for i in 1 2 3; do sleep 0.1 & done; echo started")
    await sandbox.exec("sleep 0.5")
    zombies = await sandbox.exec("ps -eo stat --no-headers | grep -c '^Z' || true")
    assert zombies.stdout.strip() == "0"


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
    assert len(streamed.encode()) < 4096 + 100
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
