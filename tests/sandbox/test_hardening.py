"""What a command in the sandbox tries, as an attacker or on a bad day, and must not get:
taking the exec server down, outliving its own end, or hitting a limit unnoticed (issue 14)."""

from __future__ import annotations

import shlex
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
