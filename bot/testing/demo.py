"""`patchbot demo`: the whole product on one machine, with no GitHub and no model provider.

It starts the GitHub simulator with an example repository and an issue describing a real
bug, the scripted model, the webhook server and a worker; labels the issue through a real
signed webhook; prints every step of the run from its trace as it happens, then the pull
request. Then a simulated maintainer requests a change in a review line comment, and the demo
prints Patchbot's answer: a second verified commit on the branch and its reply in the thread.
It ends with a summary: the pull request, the verdict, the tests, the time and the cost.

Its database, traces and simulated repositories are kept in `.patchbot-demo/` of the current
folder, never in a deployment's `DATABASE_URL` or `PATCHBOT_DATA_DIR`, so that `patchbot runs
list` and `runs show ID` work afterwards with the settings the demo prints. The next demo
replaces the folder; `patchbot demo --clean` removes it.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.runs.models import Run, RunState

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
DEMO_FOLDER = ".patchbot-demo"
"""Where the demo keeps what it made, in the folder it runs in."""
_MARKER = "README"
_MARKER_TEXT = (
    "Kept by `patchbot demo`: its database (patchbot.db), its run traces (data/runs/) and the\n"
    "simulated GitHub's repositories (github/). The next demo replaces this folder;\n"
    "`patchbot demo --clean` removes it.\n"
)


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser(
        "demo", help="label an issue on a simulated GitHub and watch Patchbot open the PR"
    )
    demo.add_argument(
        "--clean",
        action="store_true",
        help=f"remove what the last demo kept in ./{DEMO_FOLDER}, and run nothing",
    )
    demo.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for a run")
    demo.set_defaults(run=_demo)


def _demo(args: argparse.Namespace) -> int:
    home = Path.cwd() / DEMO_FOLDER
    if args.clean:
        return _clean(home)
    if not EXAMPLE.is_dir() or not TRAJECTORY.is_file() or not REVISION.is_file():
        raise ConfigError(f"the demo needs a Patchbot checkout: {EXAMPLE} is missing")
    _check_ours(home)
    if home.exists():
        shutil.rmtree(home)
    home.mkdir()
    (home / _MARKER).write_text(_MARKER_TEXT)
    return asyncio.run(_run(home, args.timeout))


def _check_ours(home: Path) -> None:
    """Refuse to replace or remove a folder the demo did not make."""
    marker = home / _MARKER
    ours = marker.is_file() and marker.read_text(errors="replace").startswith(_MARKER_TEXT)
    if home.exists() and not ours:
        raise ConfigError(
            f"{home} exists and was not made by `patchbot demo`, so it is left alone; "
            "move it away, or run the demo in another folder"
        )


def _clean(home: Path) -> int:
    if not home.exists():
        say(f"nothing to remove: {home} does not exist")
        return 0
    _check_ours(home)
    shutil.rmtree(home)
    say(f"removed {home}")
    return 0


def say(text: str = "") -> None:
    print(text, flush=True)


async def _run(home: Path, timeout: float) -> int:
    from bot.agent.scripted import load_trajectory
    from bot.sandbox.docker import docker_client
    from bot.sandbox.images import find_image
    from bot.testing.demo_report import kept_text, summary_text
    from bot.testing.stack import MAINTAINER, LocalStack

    find_image(docker_client(), "python")  # fail now, with the command that fixes it
    title, _, body = (EXAMPLE / "ISSUE.md").read_text().partition("\n")
    script = load_trajectory(TRAJECTORY) + load_trajectory(REVISION)
    environment = {"PATCHBOT_REVISION_DELAY": "1"}
    async with LocalStack(home, script, environment=environment) as stack:
        say(f"GitHub simulator   {stack.github.url}  (repository {REPOSITORY})")
        say(f"scripted model     {stack.model.api_base}")
        say(f"Patchbot           {stack.url}/webhooks  (1 worker)")
        number = await stack.seed(REPOSITORY, EXAMPLE, title.strip(), body.strip())
        say(f"\nissue #{number}: {title.strip()}")
        started = time.time()
        delivery = await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
        say(f"@{MAINTAINER} adds the label 'patchbot' → signed webhook {delivery.delivery_id}")
        run = await _follow(
            stack, lambda: stack.store.latest_run(REPOSITORY, number), started, timeout
        )
        took = time.time() - started
        say(f"\nrun #{run.id} {run.state.value} in {took:.1f} s: {run.summary}")
        _print_pull_request(stack)
        revision: tuple[Run, float] | None = None
        if run.state is RunState.SUCCEEDED:
            revision = await _review(stack, timeout)
        say(kept_text(stack, [run.id] + ([revision[0].id] if revision else [])))
        say(f"\n{summary_text(stack, number, (run, took), revision)}")
        answered = revision is not None and revision[0].state is RunState.SUCCEEDED
        return 0 if answered else 1


async def _follow(
    stack: Any, find_run: Callable[[], Awaitable[Run | None]], started: float, timeout: float
) -> Run:
    """Print the run's progress from its trace as it happens (times since `started`, Unix
    time), until the run ends; the ended run."""
    from bot.runs.pipeline import trace_path
    from bot.testing.run_progress import TraceFollower

    deadline = time.monotonic() + timeout
    follower: TraceFollower | None = None
    while time.monotonic() < deadline:
        run = await find_run()
        if run is not None:
            path = trace_path(stack.settings.data_dir, run.id)
            follower = follower or TraceFollower(path, started, say)
            follower.poll()
            if not run.state.active:
                return run
        await asyncio.sleep(0.2)
    raise TimeoutError(f"the run did not end within {timeout:g} s")


async def _review(stack: Any, timeout: float) -> tuple[Run, float]:
    """A maintainer requests a change in a line comment; print Patchbot's answer. The
    revision run, and the seconds from the review to its end."""
    from bot.testing.stack import MAINTAINER

    repo = stack.github.repo(REPOSITORY)
    pull = next(iter(repo.pulls.values()))
    first = await stack.github.branch_sha(REPOSITORY, pull.head)
    path, line, text = REVIEW_LINE
    say(f"\n=== @{MAINTAINER} reviews pull request #{pull.number}: changes requested")
    say(f"  {path}:{line}: {text}")
    started = time.time()
    await stack.github.review_pull(
        REPOSITORY, pull.number, by=MAINTAINER, comments=[(path, line, text)]
    )

    async def latest() -> Run | None:
        runs = await stack.store.pull_runs(REPOSITORY, pull.number)
        return runs[-1] if runs else None

    revision = await _follow(stack, latest, started, timeout)
    took = time.time() - started
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
    return revision, took


def _git(bare: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(bare), *args], capture_output=True, text=True, check=False
    )
    return done.stdout


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
