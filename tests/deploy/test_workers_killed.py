"""Workers at scale, as real processes (issue 18): a `patchbot serve --workers 0` intake and
three `patchbot worker` processes on a real PostgreSQL; the GitHub simulator sends signed
webhooks for 20 issues across 3 repositories, one worker is SIGKILLed while it holds a run
with a sandbox up. Every issue ends with exactly one pull request or one escalation, no run
is ever held by two workers at once, and no sandbox is left: the worker that takes the dead
one's run over removes its containers, checkouts and scratch disks."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.agent.scripted import ConversationScripts, ScriptedServer
from bot.runs.models import Run, RunState
from bot.runs.pipeline import trace_path
from bot.runs.store import RunStore, opened_store
from bot.testing.loopback import free_port
from bot.testing.postgres import new_database, postgres_bin, temporary_postgres
from bot.testing.processes import ROOT, stopped_at_exit
from bot.testing.simulator import GitHubSimulator
from bot.testing.stack import MAINTAINER
from bot.trace import read_trace
from tests.conftest import unavailable
from tests.e2e.conftest import EXAMPLE, eventually, issue_text, owner_of, sandbox_containers
from tests.e2e.conftest import trajectory as load

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("docker_ready")]

REPOSITORIES = ("octo/alpha", "octo/beta", "acme/gamma")
ISSUES = 20
FIX, GIVE_UP = "script:fix-median", "script:gives-up"
ESCALATED = "Patchbot could not fix this issue on its own"
LEASE_SECONDS = 5
GIVE_UP_STEP = {"function": {"name": "finish", "arguments": {"summary": "I cannot tell."}}}
GIVES_UP = [{"role": "assistant", "tool_calls": [GIVE_UP_STEP]}] * 3
"""An agent that changes nothing, at each of the three attempts: the run escalates."""


def script_of(index: int) -> str:
    return GIVE_UP if index % 5 == 4 else FIX


@contextlib.asynccontextmanager
async def postgres() -> AsyncIterator[str]:
    if not (postgres_bin() / "initdb").exists():
        unavailable(f"PostgreSQL server binaries not found in {postgres_bin()}")
    with temporary_postgres() as server:
        yield await new_database(server, "scale")


def environment(
    github: GitHubSimulator, api_base: str, database: str, root: Path
) -> dict[str, str]:
    """What a deployment sets, pointed at the simulated parts; the shell's PATCHBOT_* left out."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATCHBOT_")}
    env.update(
        APP_ID=str(github.app_id),
        PRIVATE_KEY=github.private_key_pem,
        WEBHOOK_SECRET=secrets.token_hex(16),
        GITHUB_API_URL=github.api_url,
        DATABASE_URL=database,
        PATCHBOT_DATA_DIR=str(root / "data"),
        PATCHBOT_MODEL="openai/scripted",
        PATCHBOT_MODEL_API_BASE=api_base,
        PATCHBOT_LEASE_SECONDS=str(LEASE_SECONDS),
        TMPDIR=str(root / "tmp"),
        PYTHONPATH=str(ROOT),
    )
    (root / "tmp").mkdir(exist_ok=True)
    return env


@contextlib.contextmanager
def patchbot(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    with stopped_at_exit(process, grace=30):
        yield process


async def healthy(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as session, session.get(url) as answer:
            return answer.status == 200
    except aiohttp.ClientError:
        return False


async def seed(github: GitHubSimulator) -> dict[tuple[str, int], str]:
    """The three repositories (the demo's bug in each), installed; 20 issues, each naming the
    script its agent follows. Gives {(repository, issue): script}."""
    title, body = issue_text()
    for account in {name.split("/")[0] for name in REPOSITORIES}:
        names = [name for name in REPOSITORIES if name.startswith(f"{account}/")]
        for name in names:
            github.add_repo(name, source=EXAMPLE)
            github.add_collaborator(name, MAINTAINER, "write")
        await github.announce_installation(github.add_installation(account, names).id)
    issues = {}
    for index in range(ISSUES):
        name, script = REPOSITORIES[index % len(REPOSITORIES)], script_of(index)
        issue = github.add_issue(name, title, f"{body}\n\n({script})", author=MAINTAINER)
        issues[(name, issue.number)] = script
    return issues


def claims(data: Path, run: Run, killed: str, killed_at: float) -> list[tuple[str, float, float]]:
    """(worker, from, to) of each claim of the run, from its trace: from the `claimed` event to
    the worker's `finished` or `lease lost`, or to the SIGKILL for the killed worker."""
    held: list[tuple[str, float, float]] = []
    holder: tuple[str, float] | None = None
    for event in read_trace(trace_path(data, run.id)):
        if event["kind"] == "claimed":
            if holder is not None:  # the one before ended without a word: killed
                assert holder[0] == killed, f"run {run.id}: {holder[0]} never let go"
                held.append((holder[0], holder[1], killed_at))
            holder = (str(event["worker"]), float(event["ts"]))
        elif event["kind"] in ("finished", "lease lost") and holder is not None:
            held.append((holder[0], holder[1], float(event["ts"])))
            holder = None
    assert holder is None, f"run {run.id}: the claim of {holder} never ended"
    return held


async def test_twenty_issues_three_workers_one_killed_each_issue_answered_once(
    tmp_path: Path,
) -> None:
    model = ConversationScripts({FIX: load("fix_median"), GIVE_UP: GIVES_UP})
    async with (
        postgres() as database,
        GitHubSimulator(tmp_path / "github") as github,
        ScriptedServer(model) as served,
        opened_store(database) as store,
    ):
        env = environment(github, served.api_base, database, tmp_path)
        port = free_port()
        with contextlib.ExitStack() as processes:
            processes.enter_context(
                patchbot(
                    ["serve", "--workers", "0", "--port", str(port)], env, tmp_path / "serve.log"
                )
            )
            workers = {
                f"w{n}": processes.enter_context(
                    patchbot(["worker", "--name", f"w{n}"], env, tmp_path / f"w{n}.log")
                )
                for n in range(3)
            }
            base = f"http://127.0.0.1:{port}"
            await eventually(lambda: healthy(f"{base}/healthz"), "the intake", timeout=60)
            github.send_webhooks_to(f"{base}/webhooks", env["WEBHOOK_SECRET"])
            issues = await seed(github)
            for name, number in issues:
                await github.label_issue(name, number, "patchbot", by=MAINTAINER)

            def with_sandbox() -> str | None:  # a worker holding a run, its sandbox up
                return next(
                    (name for name, p in workers.items() if sandbox_containers(owner_of(p.pid))),
                    None,
                )

            killed = await eventually(lambda: asyncio.to_thread(with_sandbox), "a sandbox", 120)
            doomed = workers[killed]
            owner = owner_of(doomed.pid)
            doomed.send_signal(signal.SIGKILL)
            killed_at = time.time()
            await asyncio.to_thread(doomed.wait, 10)  # reaped: its pid names no process now
            assert await asyncio.to_thread(sandbox_containers, owner), "no sandbox to reclaim"

            runs = await eventually(lambda: all_ended(store, issues), "every run's end", 240)
            # The survivors took the dead worker's run over and swept its sandbox and checkouts.
            assert await asyncio.to_thread(sandbox_containers, owner) == []
            assert not (tmp_path / "data" / "work" / owner).exists()
            survivors = [p for name, p in workers.items() if name != killed]
        for process in survivors:  # stopped by SIGTERM: drained, nothing of theirs left
            assert process.returncode == 0, process.returncode
        for process in workers.values():
            assert await asyncio.to_thread(sandbox_containers, owner_of(process.pid)) == []
        assert mounts_under(tmp_path) == [], "scratch disks left mounted"

        check_each_issue_answered_once(github, issues, runs)
        taken_over = [run for run in runs.values() if run.attempts > 1]
        assert len(taken_over) == 1 and taken_over[0].attempts == 2
        for run in runs.values():
            held = claims(tmp_path / "data", run, killed, killed_at)
            assert len(held) == run.attempts, held
            for (_, _, ended), (_, started, _) in itertools.pairwise(held):
                assert started >= ended, f"run {run.id} held by two workers at once: {held}"
        (first, _, _), (heir, _, _) = claims(tmp_path / "data", taken_over[0], killed, killed_at)
        assert first == killed and heir != killed


def mounts_under(root: Path) -> list[str]:
    """Mount points under `root`: the overlays and disks of sandboxes (see bot.sandbox.disk)."""
    points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    return [point for point in points if point.startswith(f"{root}/")]


async def all_ended(store: RunStore, issues: dict[tuple[str, int], Any]) -> dict[Any, Run] | None:
    """Each issue's one run, once all have ended; None while one is queued or running."""
    runs = {}
    for name, number in issues:
        run = await store.latest_run(name, number)
        if run is None or run.state.active:
            return None
        runs[(name, number)] = run
    return runs


def check_each_issue_answered_once(
    github: GitHubSimulator, issues: dict[tuple[str, int], str], runs: dict[Any, Run]
) -> None:
    """Each issue: one run, one status comment, and either one pull request (fixed) or one
    escalation (the agent gave up), never both."""
    for (name, number), script in issues.items():
        repo = github.repo(name)
        pulls = [p for p in repo.pulls.values() if p.head.startswith(f"patchbot/issue-{number}-")]
        comments = [c for c in repo.comments_on(number) if "<!-- patchbot:status run=" in c.body]
        escalations = [c for c in comments if ESCALATED in c.body]
        run = runs[(name, number)]
        assert len(comments) == 1, (name, number, [c.body for c in comments])
        if script == FIX:
            assert run.state is RunState.SUCCEEDED, (name, number, run.summary)
            assert (len(pulls), len(escalations)) == (1, 0), (name, number)
            assert f"Fixes #{number}" in (pulls[0].body or "")
        else:
            assert run.state is RunState.ESCALATED, (name, number, run.summary)
            assert (len(pulls), len(escalations)) == (0, 1), (name, number)
    assert sum(len(github.repo(name).pulls) for name in REPOSITORIES) == 16
