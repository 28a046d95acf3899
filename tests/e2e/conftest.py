"""Helpers for the end-to-end tests: a `LocalStack` with the demo repository and its issue,
real `patchbot worker` processes against the stack's database, and what GitHub, Docker and
the disk look like afterwards."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.agent.scripted import load_trajectory
from bot.runs.pipeline import trace_path
from bot.testing.processes import run_patchbot, stopped_at_exit
from bot.testing.simulator.state import Comment
from bot.testing.stack import LocalStack
from bot.trace import read_trace

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "examples" / "buggy_stats"
REPOSITORY = "octo/stats"
STATUS_MARKER = "<!-- patchbot:status run="
SANDBOX_LABEL = "patchbot.sandbox"
OWNER_LABEL = "patchbot.owner"
_TRAJECTORY_DIRS = (Path(__file__).parent / "trajectories", ROOT / "bot" / "agent" / "trajectories")
# The deployment's own variables: a worker process gets the stack's values, never the shell's.
_DEPLOYMENT_VARIABLES = (
    "APP_ID",
    "PRIVATE_KEY",
    "PRIVATE_KEY_PATH",
    "WEBHOOK_SECRET",
    "DATABASE_URL",
    "GITHUB_API_URL",
    "LOG_LEVEL",
    "MODEL",
)

StartStack = Callable[..., Awaitable[tuple[LocalStack, int]]]


def trajectory(name: str) -> list[dict[str, Any]]:
    """A trajectory of `tests/e2e/trajectories/` or, failing that, the agent's own."""
    for folder in _TRAJECTORY_DIRS:
        path = folder / f"{name}.jsonl"
        if path.exists():
            return load_trajectory(path)
    raise FileNotFoundError(f"no trajectory {name}.jsonl in {_TRAJECTORY_DIRS}")


def issue_text() -> tuple[str, str]:
    title, _, body = (EXAMPLE / "ISSUE.md").read_text().partition("\n")
    return title.strip(), body.strip()


@pytest.fixture
async def start_stack(tmp_path: Path) -> AsyncIterator[StartStack]:
    """Start one LocalStack replaying trajectories (one after the other), seeded with the demo
    repository and its issue; gives (stack, issue number). Stopped at the end of the test."""
    async with contextlib.AsyncExitStack() as exits:

        async def start(*scripts: str, **options: Any) -> tuple[LocalStack, int]:
            messages = [message for script in scripts for message in trajectory(script)]
            stack = LocalStack(tmp_path / "stack", messages, **options)
            await exits.enter_async_context(stack)
            title, body = issue_text()
            return stack, await stack.seed(REPOSITORY, EXAMPLE, title, body)

        yield start


async def eventually(
    check: Callable[[], Any], what: str, timeout: float = 60, interval: float = 0.1
) -> Any:
    """The first truthy value of `check()` (sync or async), polled until `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def worker_environment(stack: LocalStack, **extra: str) -> dict[str, str]:
    """The environment of a real `patchbot worker` pointed at the stack's simulated parts."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PATCHBOT_") and key not in _DEPLOYMENT_VARIABLES
    }
    env.update(stack.environment())
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


@contextlib.contextmanager
def worker_process(
    stack: LocalStack, name: str, log: Path, **extra: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m bot worker` running the GitHub pipeline, its output in `log` and its
    temporary files (checkouts) in `LOG.tmp/` unless `TMPDIR` is given; stopped with SIGTERM
    (then SIGKILL) at the end unless it is already dead."""
    temporary = Path(extra.setdefault("TMPDIR", str(log.with_suffix(".tmp"))))
    temporary.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker", "--name", name],
            cwd=ROOT,
            env=worker_environment(stack, **extra),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    with stopped_at_exit(process, grace=15):
        yield process


async def patchbot_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` to its end, without blocking the event loop."""
    return await run_patchbot(*args, env=env)


def git_show(bare: Path, *args: str) -> str:
    """`git ARGS` in a bare repository of the simulator; its stdout."""
    done = subprocess.run(
        ["git", "--git-dir", str(bare), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def branches(stack: LocalStack) -> list[str]:
    """The refs under refs/heads of the simulated repository."""
    path = stack.github.repo(REPOSITORY).path
    return git_show(path, "for-each-ref", "--format=%(refname)", "refs/heads").split()


def trace_events(stack: LocalStack, run_id: int) -> list[dict[str, Any]]:
    path = trace_path(stack.settings.data_dir, run_id)
    return list(read_trace(path)) if path.exists() else []


def has_event(stack: LocalStack, run_id: int, kind: str) -> bool:
    return any(event["kind"] == kind for event in trace_events(stack, run_id))


def status_comments(stack: LocalStack, issue: int) -> list[Comment]:
    """The run status comments on the issue (the bot's, found by their marker)."""
    comments = stack.github.repo(REPOSITORY).comments_on(issue)
    return [comment for comment in comments if STATUS_MARKER in comment.body]


def sandbox_containers(owner: str | None = None) -> list[str]:
    """Ids of Patchbot's sandbox containers (all states), only those made by `owner` if given."""
    import docker

    client = docker.from_env()
    try:  # one listing call: a container removed meanwhile cannot break it
        found = client.api.containers(all=True, filters={"label": SANDBOX_LABEL})
    finally:
        client.close()
    return [
        str(c["Id"])
        for c in found
        if owner is None or (c.get("Labels") or {}).get(OWNER_LABEL) == owner
    ]


def owner_of(pid: int) -> str:
    """The owner label the sandboxes made by process `pid` on this host carry."""
    return f"{socket.gethostname()}:{pid}"


def secret_forms(tokens: list[str]) -> list[str]:
    """Each token, and the HTTP Basic credential git would send it as."""
    forms = list(tokens)
    for token in tokens:
        forms.append(base64.b64encode(f"x-access-token:{token}".encode()).decode())
    return forms


def files_holding(root: Path, secrets: list[str]) -> list[Path]:
    """Files under `root` whose bytes contain any of `secrets`."""
    needles = [secret.encode() for secret in secrets]
    found = []
    for path in root.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                data = path.read_bytes()
                if any(needle in data for needle in needles):
                    found.append(path)
    return found
