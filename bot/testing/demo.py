"""`patchbot demo`: the whole product on one machine, with no GitHub and no model provider.

It starts the GitHub simulator with an example repository and an issue describing a real
bug, the scripted model, the webhook server and a worker; labels the issue through a real
signed webhook; follows the status comment; and prints the pull request and the trace.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
REPOSITORY = "octo/stats"


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser(
        "demo", help="label an issue on a simulated GitHub and watch Patchbot open the PR"
    )
    demo.add_argument("--keep", action="store_true", help="keep the demo's files (and trace)")
    demo.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the run")
    demo.set_defaults(run=_demo)


def _demo(args: argparse.Namespace) -> int:
    if not EXAMPLE.is_dir() or not TRAJECTORY.is_file():
        raise ConfigError(f"the demo needs a Patchbot checkout: {EXAMPLE} is missing")
    root = Path(tempfile.mkdtemp(prefix="patchbot-demo-"))
    try:
        return asyncio.run(_run(root, args.timeout))
    finally:
        if args.keep:
            print(f"\nthe demo's files are in {root}")
        else:
            subprocess.run(["rm", "-rf", str(root)], check=False)


def say(text: str = "") -> None:
    print(text, flush=True)


async def _run(root: Path, timeout: float) -> int:
    from bot.agent.scripted import load_trajectory
    from bot.sandbox.docker import docker_client
    from bot.sandbox.images import find_image
    from bot.testing.stack import MAINTAINER, LocalStack

    find_image(docker_client(), "python")  # fail now, with the command that fixes it
    title, _, body = (EXAMPLE / "ISSUE.md").read_text().partition("\n")
    async with LocalStack(root, load_trajectory(TRAJECTORY)) as stack:
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
        return 0 if run.state.value == "succeeded" else 1


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
        stat = subprocess.run(
            ["git", "--git-dir", str(repo.path), "diff", "--stat", f"{pull.base}...{pull.head}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
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
    if kind in ("baseline",):
        return f"baseline: {event['summary']}"
    if kind == "verification":
        return f"verification of attempt {event['attempt']}: {event['reason']}"
    if kind in ("pull_request", "escalated"):
        return f"{kind}: {event.get('url') or event.get('detail')}"
    if kind == "pipeline":
        return f"{event['step']}: {event.get('detail', '')}"
    return ""
