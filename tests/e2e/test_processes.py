"""Real `patchbot worker` processes against the stack's database: a worker killed mid-run is
replaced by another that finishes the run once, and the installation token stays out of
every place it must never reach."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import re
import signal
from pathlib import Path

import pytest

from bot.runs.models import RunState
from bot.runs.pipeline import trace_path
from bot.testing.stack import MAINTAINER
from tests.e2e.conftest import (
    REPOSITORY,
    StartStack,
    branches,
    eventually,
    files_holding,
    owner_of,
    patchbot_cli,
    sandbox_containers,
    secret_forms,
    status_comments,
    trace_events,
    worker_environment,
    worker_process,
)

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("docker_ready")]
_BASE64 = re.compile(r"[A-Za-z0-9+/=]{24,}")


def git_configs(root: Path) -> list[Path]:
    """Git configuration files under `root`: `.git/config` and bare repositories' `config`."""
    return [
        path
        for path in root.rglob("config")
        if path.parent.name == ".git" or path.parent.name.endswith(".git")
    ]


async def test_killed_worker_s_run_is_finished_by_another_with_one_pull_request(
    start_stack: StartStack, tmp_path: Path
) -> None:
    stack, number = await start_stack(
        "fix_median", workers=0, environment={"PATCHBOT_LEASE_SECONDS": "5"}
    )
    work_root = stack.settings.data_dir / "work"  # where workers keep their checkouts
    with worker_process(stack, "doomed", tmp_path / "doomed.log") as doomed:
        owner = owner_of(doomed.pid)
        await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
        # Kill it while its baseline runs: before its first model call, since the scripted
        # model serves its messages in order and cannot replay a conversation from the start.
        await eventually(
            lambda: asyncio.to_thread(sandbox_containers, owner),
            "the first worker's baseline sandbox",
            timeout=120,
        )
        doomed.send_signal(signal.SIGKILL)
        await asyncio.to_thread(doomed.wait, 10)
    assert stack.model.model.requests == [], "the first worker reached the model"
    orphaned = await stack.store.latest_run(REPOSITORY, number)
    assert orphaned is not None and orphaned.state is RunState.RUNNING
    assert orphaned.lease_owner == "doomed"
    assert await asyncio.to_thread(sandbox_containers, owner), (
        "the dead worker's sandbox vanished before `sandbox gc`"
    )

    # What the killed worker left on disk holds no credential, its clone's config included.
    doomed_tmp = work_root / owner
    leftover = git_configs(doomed_tmp)
    assert any(f"patchbot-run-{orphaned.id}-" in str(path) for path in leftover), leftover
    tokens = list(stack.github.state.tokens)
    assert tokens
    assert files_holding(doomed_tmp, secret_forms(tokens)) == []

    with worker_process(stack, "heir", tmp_path / "heir.log"):
        run = await stack.finished_run(REPOSITORY, number, timeout=180)
    assert run.state is RunState.SUCCEEDED, run.summary
    assert run.attempts == 2
    repo = stack.github.repo(REPOSITORY)
    assert len(repo.pulls) == 1
    assert len(status_comments(stack, number)) == 1
    pull = next(iter(repo.pulls.values()))
    assert f"/pull/{pull.number}**" in status_comments(stack, number)[0].body
    events = trace_events(stack, run.id)
    assert [e["worker"] for e in events if e["kind"] == "claimed"] == ["doomed", "heir"]
    assert [e["kind"] for e in events].count("finished") == 1

    collected = await patchbot_cli("sandbox", "gc", env=worker_environment(stack))
    assert collected.returncode == 0, collected.stderr
    assert await asyncio.to_thread(sandbox_containers, owner) == []
    assert not doomed_tmp.exists()  # the dead worker's checkouts went with its sandbox


async def test_worker_killed_after_opening_the_pull_request_is_resumed_without_a_second_one(
    start_stack: StartStack, tmp_path: Path
) -> None:
    # One agent session: the second worker publishes the verified patch the first one kept,
    # without running the agent again (a second model call would find no script).
    stack, number = await start_stack(
        "fix_median", workers=0, environment={"PATCHBOT_LEASE_SECONDS": "5"}
    )
    # The first worker's check run is answered late: it is killed while waiting for it. (Not
    # much later: the simulator's shutdown waits for the answer.)
    stack.github.faults.slow("/repos/*/check-runs", 10, method="POST")
    repo = stack.github.repo(REPOSITORY)

    def check_run_requested() -> bool:
        return any(
            r.method == "POST" and r.path.endswith("/check-runs") for r in stack.github.requests
        )

    with worker_process(stack, "doomed", tmp_path / "doomed.log") as doomed:
        await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
        await eventually(check_run_requested, "the first worker's check run", timeout=120)
        doomed.send_signal(signal.SIGKILL)
        await asyncio.to_thread(doomed.wait, 10)
    assert len(repo.pulls) == 1
    first = next(iter(repo.pulls.values()))
    assert stack.model.model.remaining == 0
    model_calls = len(stack.model.model.requests)

    with worker_process(stack, "heir", tmp_path / "heir.log"):
        run = await stack.finished_run(REPOSITORY, number, timeout=180)
    assert run.state is RunState.SUCCEEDED, run.summary
    assert run.attempts == 2 and len(stack.model.model.requests) == model_calls
    kinds = [event["kind"] for event in trace_events(stack, run.id)]
    assert kinds.count("solve_start") == 1 and "resumed" in kinds
    assert list(repo.pulls) == [first.number]
    assert branches(stack) == ["refs/heads/main", f"refs/heads/{first.head}"]
    head = await stack.github.branch_sha(REPOSITORY, first.head)
    assert head is not None
    checks = [c for c in repo.check_runs.values() if c.head_sha == head]
    assert [(c.name, c.conclusion) for c in checks] == [("patchbot/verify", "success")]
    comments = status_comments(stack, number)
    assert len(comments) == 1, [comment.body for comment in comments]
    assert f"/pull/{first.number}** for this issue (run #{run.id})" in comments[0].body


def decoded_outputs(events: list[dict[str, object]]) -> list[str]:
    """What the agent's `bash` calls printed, decoded from the base64 they printed it as."""
    texts = []
    for event in events:
        if event["kind"] == "tool_result" and event["name"] == "bash":
            runs = _BASE64.findall(str(event["output"]))
            assert runs, event["output"]
            try:
                raw = base64.b64decode(max(runs, key=len))
            except binascii.Error as error:
                raise AssertionError(f"not base64: {event['output']}") from error
            texts.append(raw.decode(errors="replace"))
    return texts


async def test_installation_token_never_reaches_trace_logs_sandbox_or_git_config(
    start_stack: StartStack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    stack, number = await start_stack("fix_median_env", workers=0)
    worker_tmp = stack.settings.data_dir / "work"  # where workers keep their checkouts
    configs: dict[Path, set[bytes]] = {}

    async def watch_git_configs() -> None:
        """Every version of every git config the worker writes while it works."""
        while True:
            for path in await asyncio.to_thread(git_configs, worker_tmp):
                try:
                    configs.setdefault(path, set()).add(path.read_bytes())
                except OSError:
                    continue
            await asyncio.sleep(0.1)

    log = tmp_path / "worker.log"
    with worker_process(stack, "worker", log, LOG_LEVEL="DEBUG"):
        watcher = asyncio.create_task(watch_git_configs())
        try:
            await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
            run = await stack.finished_run(REPOSITORY, number, timeout=180)
        finally:
            watcher.cancel()
    assert run.state is RunState.SUCCEEDED, run.summary
    tokens = list(stack.github.state.tokens)
    assert tokens, "the simulator minted no installation token"
    # The app's own secrets go nowhere either (the worker holds them in its environment).
    secrets = [*secret_forms(tokens), stack.webhook_secret, stack.github.private_key_pem.split()[5]]

    trace = trace_path(stack.settings.data_dir, run.id).read_text()
    assert not [secret for secret in secrets if secret in trace]
    assert "x-access-token" not in trace

    environment, pid1_environment, git_config = decoded_outputs(trace_events(stack, run.id))
    assert "PATH=" in environment and "PATH=" in pid1_environment
    assert "/proc/1/environ: Permission denied" in pid1_environment
    for text in (environment, pid1_environment, git_config):
        assert not [secret for secret in secrets if secret in text]
        assert "ghs_" not in text and "x-access-token" not in text.lower()
    assert "core.bare=false" in git_config and "extraheader" not in git_config.lower()

    worker_log = log.read_text()
    assert f"claimed run {run.id}" in worker_log  # the log was written, at DEBUG
    assert not [secret for secret in secrets if secret in worker_log]
    assert caplog.records, "the server logged nothing"
    assert not [secret for secret in secrets if secret in caplog.text]

    clones = [path for path in configs if f"patchbot-run-{run.id}-" in str(path)]
    assert clones, f"no clone of the run seen among {list(configs)}"
    for path, versions in configs.items():
        for version in versions:
            assert not [secret for secret in secrets if secret.encode() in version], path
            assert b"x-access-token" not in version and b"extraheader" not in version.lower(), path
    # Nothing the stack keeps (database, traces, the simulated GitHub's repositories) holds it.
    assert files_holding(stack.root, secrets) == []
    assert files_holding(worker_tmp, secrets) == []
