"""`patchbot eval`: mine tasks from a repository's history, run Patchbot on them, compare runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.errors import ConfigError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("eval", help="measure Patchbot on your own repository's history")
    commands = parser.add_subparsers(dest="eval_command", metavar="COMMAND", required=True)
    mine = commands.add_parser(
        "mine",
        help="find fix commits whose tests fail before and pass after, as SWE-bench tasks",
        description="Walks HEAD's history for commits that change source and tests together, "
        "sets up each parent with the set-up planner, runs the commit's test modules at the "
        "parent (with the commit's tests applied) and at the commit, and appends a task "
        "(SWE-bench's record format) for each commit with a test that fails before and passes "
        "after. Resumable: decisions are kept in OUT.state.jsonl with the reason of each "
        "rejection.",
    )
    mine.add_argument("--repo", required=True, type=Path, help="a local git repository")
    mine.add_argument("--max-commits", type=int, default=None, help="commits examined at most")
    mine.add_argument("--since", default=None, help="only commits after this date")
    mine.add_argument(
        "--reveal",
        action="store_true",
        help="keep the commit message whole (default: hide the files and names the fix adds)",
    )
    mine.add_argument("--image", default=None, help="pin a sandbox image (default: by Python)")
    mine.add_argument("--out", required=True, type=Path, help="the tasks file (JSON lines)")
    mine.set_defaults(run=_mine)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _mine(args: argparse.Namespace) -> int:
    import asyncio

    from bot.eval.mine import MineOptions, mine
    from bot.setup.local import local_sandbox
    from bot.solve.checkout import head_commit
    from bot.solve.solver import docker_sandbox

    head_commit(args.repo)
    if args.max_commits is not None and args.max_commits < 1:
        raise ConfigError("--max-commits must be at least 1")
    options = MineOptions(
        repo=args.repo,
        out=args.out,
        max_commits=args.max_commits,
        since=args.since,
        mask=not args.reveal,
    )
    summary = asyncio.run(
        mine(options, lambda tree: local_sandbox(tree, image=args.image), docker_sandbox, _say)
    )
    reasons = "; ".join(f"{n} {reason}" for reason, n in sorted(summary.rejected.items()))
    _say(
        f"{summary.tasks} task(s) from {summary.examined} commit(s) examined in "
        f"{summary.seconds:.0f} s ({summary.skipped} decided before)"
        + (f"; rejected: {reasons}" if reasons else "")
    )
    return 0
