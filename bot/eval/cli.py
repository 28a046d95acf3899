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
    mine.add_argument(
        "--scope",
        choices=("suite", "touched"),
        default="suite",
        help="run the whole suite (default), or only the test modules each commit touches "
        "(for suites too slow to run three times per commit)",
    )
    mine.add_argument("--concurrency", type=int, default=1, help="commits examined at once")
    mine.add_argument("--image", default=None, help="pin a sandbox image (default: by Python)")
    mine.add_argument("--out", required=True, type=Path, help="the tasks file (JSON lines)")
    mine.set_defaults(run=_mine)
    register_run(commands)
    compare = commands.add_parser(
        "compare",
        help="what changed between two evaluations, task by task",
        description="Compares two evaluation folders (eval run --out): the model, policy and "
        "Patchbot version each ran with, the totals, and every task whose verdict changed.",
    )
    compare.add_argument("a", type=Path, help="the earlier evaluation folder")
    compare.add_argument("b", type=Path, help="the later evaluation folder")
    compare.set_defaults(run=_compare)
    schedule = commands.add_parser(
        "schedule",
        help="evaluate a repository in the server on a schedule, and alert when it drops",
        description="Queues the repository's scheduled evaluation in the run store, due now or "
        "after --delay: a worker clones the repository, runs its mined tasks (policy "
        "eval.tasks, within eval.max_tasks and eval.budget_usd) with the server's model and "
        "policy, keeps the result, compares it with the previous one and raises a drop (log, "
        "metric, a comment on eval.issue); each run queues the next at the policy's "
        "eval.schedule. `patchbot runs stop ID` on the queued run ends the schedule.",
    )
    schedule.add_argument("repository", help="OWNER/NAME")
    schedule.add_argument(
        "--installation", type=int, required=True, help="the App installation covering it"
    )
    schedule.add_argument("--delay", type=float, default=0.0, help="seconds before the first")
    schedule.add_argument(
        "--policy", type=Path, default=None, help="server policy (default: $PATCHBOT_POLICY)"
    )
    schedule.set_defaults(run=_schedule)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _mine(args: argparse.Namespace) -> int:
    import asyncio

    from bot.eval.mine import MineOptions, mine
    from bot.sandbox.local import local_sandbox
    from bot.solve.checkout import head_commit
    from bot.solve.solver import docker_sandbox

    head_commit(args.repo)
    if args.max_commits is not None and args.max_commits < 1:
        raise ConfigError("--max-commits must be at least 1")
    if args.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    options = MineOptions(
        repo=args.repo,
        out=args.out,
        max_commits=args.max_commits,
        since=args.since,
        mask=not args.reveal,
        scope=args.scope,
        concurrency=args.concurrency,
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


def register_run(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="run Patchbot on mined (or SWE-bench) tasks and grade the results",
        description="Each task gets a history-free copy of its base commit and goes through "
        "the same solve path as the server (set-up, baseline, agent, verification); the "
        "candidate is graded as SWE-bench grades. Results are appended to DIR/results.jsonl "
        "run by run, so a killed evaluation resumes; DIR/results.json, report.md and "
        "report.html hold the totals and the gate's confusion table. --model oracle replays "
        "each task's real fix and tests, --model tests-only its tests alone: harness checks "
        "that need no model.",
    )
    run.add_argument("tasks", type=Path, help="tasks file (JSON lines, SWE-bench format)")
    run.add_argument(
        "--model",
        default=None,
        help="a litellm model string, oracle or tests-only (default: $PATCHBOT_MODEL)",
    )
    run.add_argument("--api-base", default=None, help="OpenAI-compatible server for --model")
    run.add_argument(
        "--policy",
        type=Path,
        default=None,
        help="policy file (default: $PATCHBOT_POLICY or the default)",
    )
    run.add_argument("--concurrency", type=int, default=1, help="tasks run at once")
    run.add_argument("--attempts", type=int, default=1, help="independent runs per task")
    run.add_argument(
        "--repo",
        type=Path,
        default=None,
        help="the repository holding the base commits (default: each task's repo_path)",
    )
    run.add_argument("--image", default=None, help="pin a sandbox image (default: by Python)")
    run.add_argument("--out", required=True, type=Path, help="the evaluation folder")
    run.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    import asyncio

    from bot.eval.run import RunOptions, evaluate, live_model
    from bot.policy.load import default_policy_path
    from bot.solve.solver import docker_sandbox
    from bot.trace import Redactor

    if args.concurrency < 1 or args.attempts < 1:
        raise ConfigError("--concurrency and --attempts must be at least 1")
    settings = args.settings
    model, configured = live_model(settings, model=args.model, api_base=args.api_base)
    options = RunOptions(
        out=args.out,
        model=model,
        concurrency=args.concurrency,
        attempts=args.attempts,
        repo=args.repo,
        image=args.image,
    )
    _sweep()
    summary = asyncio.run(
        evaluate(
            options,
            args.tasks,
            policy_path=args.policy or default_policy_path(),
            configured=configured,
            redactor=Redactor(settings.secrets()),
            opener=docker_sandbox,
            say=_say,
        )
    )
    _say(
        f"{summary['resolved']} of {summary['runs']} run(s) resolved, {summary['accepted']} "
        f"accepted ({summary['accepted_unresolved']} accepted but not resolved); "
        f"see {args.out}/report.md"
    )
    return 0


def _sweep() -> None:
    """Remove the sandboxes a killed evaluation (or any dead process) left behind."""
    from bot.sandbox.cleanup import collect_garbage
    from bot.sandbox.docker import docker_client

    collect_garbage(docker_client())


def _compare(args: argparse.Namespace) -> int:
    from bot.eval.compare import compare, load_results

    print("\n".join(compare(load_results(args.a), load_results(args.b))))
    return 0


def _schedule(args: argparse.Namespace) -> int:
    import asyncio
    import time

    from bot.eval.scheduled import schedule_eval
    from bot.policy.load import default_policy_path, load_policy_file
    from bot.runs.models import ActiveRunExists
    from bot.runs.store import opened_store

    if args.repository.count("/") != 1 or args.delay < 0:
        raise ConfigError("give the repository as OWNER/NAME, and --delay of 0 or more seconds")
    policy = load_policy_file(args.policy or default_policy_path())

    async def queue() -> str:
        async with opened_store(args.settings.database_url) as store:
            due = time.time() + args.delay
            try:
                run = await schedule_eval(
                    store, args.repository, args.installation, policy, due=due
                )
            except ActiveRunExists as error:
                return f"already scheduled: run {error.run.id} ({error.run.state.value})"
            return f"run {run.id}: evaluates {run.repository} {policy.eval.schedule}"

    print(asyncio.run(queue()))
    return 0
