"""`patchbot demo`: the whole product on one machine, with no GitHub and no model provider.

It starts the GitHub simulator with an example repository and an issue describing a real
bug, the scripted model, the webhook server and a worker; labels the issue through a real
signed webhook; follows the status comment; and prints the pull request and the trace. Then a
simulated maintainer requests a change in a review line comment, and the demo prints
Patchbot's answer: a second verified commit on the branch and its reply in the thread.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "examples" / "buggy_stats"
TRAJECTORY = ROOT / "bot" / "agent" / "trajectories" / "fix_median.jsonl"
REVISION = ROOT / "bot" / "agent" / "trajectories" / "revise_median.jsonl"
REVIEW_LINE = (
    "stats/__init__.py",
    15,
    "Please say in median()'s docstring what an even count gives.",
)
REPOSITORY = "octo/stats"


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser(
        "demo", help="label an issue on a simulated GitHub and watch Patchbot open the PR"
    )
    demo.add_argument("--keep", action="store_true", help="keep the demo's files (and trace)")
    demo.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the run")
    demo.set_defaults(run=_demo)


def _demo(args: argparse.Namespace) -> int:
    if not EXAMPLE.is_dir() or not TRAJECTORY.is_file() or not REVISION.is_file():
        raise ConfigError(f"the demo needs a Patchbot checkout: {EXAMPLE} is missing")
    root = Path(tempfile.mkdtemp(prefix="patchbot-demo-"))
    try:
        return asyncio.run(_run(root, args.timeout))
    finally:
        if args.keep:
            print(f"\nthe demo's files are in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def say(text: str = "") -> None:
    print(text, flush=True)


async def _run(root: Path, timeout: float) -> int:
    from bot.agent.scripted import load_trajectory
    from bot.sandbox.docker import docker_client
    from bot.sandbox.images import find_image
    from bot.testing.stack import MAINTAINER, LocalStack

    find_image(docker_client(), "python")  # fail now, with the command that fixes it
    title, _, body = (EXAMPLE / "ISSUE.md").read_text().partition("\n")
    script = load_trajectory(TRAJECTORY) + load_trajectory(REVISION)
    environment = {"PATCHBOT_REVISION_DELAY": "1"}
    async with LocalStack(root, script, environment=environment) as stack:
        say(f"GitHub simulator   {stack.github.url}  (repository {REPOSITORY})")
        say(f"scripted model     {stack.model.api_base}")
        say(f"Patchbot           {stack.url}/webhooks  (1 worker)")
        number = await stack.seed(REPOSITORY, EXAMPLE, title.strip(), body.strip())
        say(f"\nissue #{number}: {title.strip()}")
        started = time.monotonic()
        delivery = await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
        say(f"@{MAINTAINER} adds the `patchbot` label → signed webhook {delivery.delivery_id}")
        watcher = asyncio.create_task(_follow_status(stack, number, started))
        try:
            run = await stack.finished_run(REPOSITORY, number, timeout=timeout)
        finally:
            watcher.cancel()
        took = time.monotonic() - started
        say(f"\nrun #{run.id} {run.state.value} in {took:.1f} s: {run.summary}")
        _print_pull_request(stack)
        _print_trace(stack.settings.data_dir / "runs" / f"{run.id}.jsonl")
        if run.state.value != "succeeded":
            return 1
        revision = await _review(stack, timeout)
        _print_trace(stack.settings.data_dir / "runs" / f"{revision.id}.jsonl")
        return 0 if revision.state.value == "succeeded" else 1


async def _review(stack: Any, timeout: float) -> Any:
    """A maintainer requests a change in a line comment; print Patchbot's answer."""
    from bot.testing.stack import MAINTAINER

    repo = stack.github.repo(REPOSITORY)
    pull = next(iter(repo.pulls.values()))
    first = await stack.github.branch_sha(REPOSITORY, pull.head)
    path, line, text = REVIEW_LINE
    say(f"\n=== @{MAINTAINER} reviews pull request #{pull.number}: changes requested")
    say(f"  {path}:{line}: {text}")
    started = time.monotonic()
    await stack.github.review_pull(
        REPOSITORY, pull.number, by=MAINTAINER, comments=[(path, line, text)]
    )
    watcher = asyncio.create_task(_follow_status(stack, pull.number, started))
    try:
        deadline = time.monotonic() + timeout
        while True:
            runs = await stack.store.pull_runs(REPOSITORY, pull.number)
            if runs and not runs[-1].state.active:
                revision = runs[-1]
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the revision did not end within {timeout:g} s")
            await asyncio.sleep(0.2)
    finally:
        watcher.cancel()
    took = time.monotonic() - started
    say(
        f"\nrun #{revision.id} (revision {revision.iteration}) {revision.state.value} in "
        f"{took:.1f} s: {revision.summary}"
    )
    head = await stack.github.branch_sha(REPOSITORY, pull.head)
    say(f"\n=== branch {pull.head}: the new commit on top of {first[:12]}\n")
    say(_git(repo.path, "log", "--format=%h %s (%an)", f"{pull.base}..{head}").rstrip())
    say("")
    say(_git(repo.path, "show", "--format=", head).rstrip())
    for reply in pull.review_comments:
        if reply.in_reply_to_id is not None:
            say(f"\n=== @{reply.user.login} replies in the thread on {reply.path}:{reply.line}")
            say(reply.body.split("\n", 1)[1] if "\n" in reply.body else reply.body)
    for check in repo.check_runs.values():
        if check.head_sha == head:
            say(
                f"\ncheck run {check.name} on {head[:12]}: {check.conclusion}, "
                f"{check.output.get('title')}"
            )
    return revision


def _git(bare: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(bare), *args], capture_output=True, text=True, check=False
    )
    return done.stdout


async def _follow_status(stack: Any, number: int, started: float) -> None:
    """Print each new line of the status comment as Patchbot edits it."""
    seen: set[str] = set()
    while True:
        for comment in stack.github.repo(REPOSITORY).comments.values():
            if comment.issue_number != number or "patchbot:status" not in comment.body:
                continue
            for line in comment.body.splitlines():
                if line.startswith("- [") and line not in seen:
                    seen.add(line)
                    say(f"  {time.monotonic() - started:5.1f} s  {line[6:]}")
        await asyncio.sleep(0.2)


def _print_pull_request(stack: Any) -> None:
    repo = stack.github.repo(REPOSITORY)
    for pull in repo.pulls.values():
        stat = _git(repo.path, "diff", "--stat", f"{pull.base}...{pull.head}")
        say(f"\n=== pull request #{pull.number}: {pull.title}")
        say(f"branch {pull.head} → {pull.base}\n")
        say(pull.body or "")
        say(f"\n{stat.rstrip()}")
    for check in repo.check_runs.values():
        say(f"\ncheck run {check.name}: {check.status}, {check.conclusion}")


def _print_trace(path: Path) -> None:
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    kinds = Counter(event["kind"] for event in events)
    span = events[-1]["ts"] - events[0]["ts"] if events else 0.0
    say(f"\n=== trace: {len(events)} events over {span:.1f} s ({path})")
    say(", ".join(f"{kind} x{count}" for kind, count in kinds.most_common()))
    start = events[0]["ts"] if events else 0.0
    for event in events:
        line = _trace_line(event)
        if line:
            say(f"  {event['ts'] - start:5.1f} s  {line}")


def _trace_line(event: dict[str, Any]) -> str:
    """One line for the events that tell the story: prompt → tool calls → verdict → action."""
    kind = event["kind"]
    if kind == "tool_call":
        return f"step {event['step']}: {event['name']} {str(event.get('arguments', ''))[:70]}"
    if kind == "baseline":
        return f"baseline: {event['summary']}"
    if kind == "verification":
        return f"verification of attempt {event['attempt']}: {event['reason']}"
    if kind in ("pull_request", "escalated"):
        return f"{kind}: {event.get('url') or event.get('detail')}"
    if kind == "revision_pushed":
        return f"revision {event['iteration']} pushed: {event['head'][:12]}"
    if kind == "pipeline":
        return f"{event['step']}: {event.get('detail', '')}"
    return ""
