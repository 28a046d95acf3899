"""Benchmark (issue 7): review feedback on Patchbot's pull request → one revision run.

Two parts, on `octo/stats` seeded from `tests/examples/buggy_stats`, in one process:

1. Coalescing at intake (no worker, no Docker): a CHANGES_REQUESTED review with N line
   comments (N = 1, 10, 50) on a Patchbot pull request built in the simulator. Timed: all
   N+1 deliveries answered, the store holding all N+1 feedback items, every delivery handled;
   runs created (one per review is the design); each delivery's answer latency.
2. Revision cycle (real pipeline, one worker, Docker sandboxes, `PATCHBOT_REVISION_DELAY=1`):
   one first run (label → PR), then sequential reviews of that pull request, each answered by
   one revision run whose scripted agent adds a distinct comment line. Review submitted → new
   commit on the branch, split into phases from the run's trace, against the first run's.
   A throwaway first run in its own stack warms the process first (litellm imported and
   called once), so the first run compared is warm like the revisions.

Prints a table of medians from this one run, writes bench/results/revisions.json.

    python bench/revisions.py [--samples 5] [--reviews 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.agent.scripted import load_trajectory  # noqa: E402
from bot.runs.models import Run  # noqa: E402
from bot.testing.simulator import gitcommits, gitrepo  # noqa: E402
from bot.testing.simulator.deliveries import Delivery  # noqa: E402
from bot.testing.simulator.state import Pull  # noqa: E402
from bot.testing.stack import MAINTAINER, LocalStack  # noqa: E402
from bot.trace import read_trace  # noqa: E402

REPOSITORY = "octo/stats"
EXAMPLE = ROOT / "tests" / "examples" / "buggy_stats"
FIX = ROOT / "bot" / "agent" / "trajectories" / "fix_median.jsonl"
SOURCE = "stats/__init__.py"
SIZES = (1, 10, 50)
"""Line comments per review at intake."""
NOTES = max(SIZES)
"""New lines at the top of the intake pull request's file: each can take a line comment."""
REVIEW_LINE = 15
"""`if len(ordered) % 2 == 0:` after the fix: a line of the pull request's diff."""
DELAY = "1"
"""PATCHBOT_REVISION_DELAY, seconds, for the revision cycle."""

PHASES = [
    ("intake → claimed", "sent", "claimed"),
    ("clone (+ checkout)", "claimed", "cloned"),
    ("baseline (sandbox + tests)", "cloned", "baseline"),
    ("agent", "baseline", "agent_stop"),
    ("verification", "agent_stop", "solved"),
    ("push + check + replies (first run: PR)", "solved", "done"),
]
"""Spans between trace marks, adding up to the total: review sent → `revision_pushed` for a
revision, label → `pull_request` for the first run."""

PARTS = {
    "intake → claimed": [
        ("review handled → run queued", "sent", "queued"),
        ("waiting for the revision delay", "queued", "not_before"),
        ("delay over → claimed (worker poll)", "not_before", "claimed"),
    ],
    "push + check + replies (first run: PR)": [
        ("commit + git push (the new commit)", "solved", "pushed"),
        ("check run, PR body, replies, status", "pushed", "done"),
    ],
}
"""Rows under a phase."""


# --- 1. coalescing at intake ------------------------------------------------------------------


class AnswerTimer:
    """Times each delivery the simulator sends, from signing to the webhook server's answer:
    `send_event` is wrapped on the instance, so `review_pull` goes through it unchanged."""

    def __init__(self, stack: LocalStack) -> None:
        self.seconds: list[float] = []
        real = stack.github.send_event

        async def timed(event: str, payload: dict[str, Any]) -> Delivery:
            started = time.perf_counter()
            try:
                return await real(event, payload)
            finally:
                self.seconds.append(time.perf_counter() - started)

        stack.github.send_event = timed  # type: ignore[method-assign]


async def patchbot_pull(stack: LocalStack, issue: int) -> int:
    """A pull request of Patchbot's own (its bot, its `patchbot/issue-N-...` branch) fixing
    `issue`, whose first NOTES lines of SOURCE are new; its number. Built in the simulator's
    state as tests/handlers/test_pull_feedback.py does: intake needs no first run."""
    github = stack.github
    repo = github.repo(REPOSITORY)
    main = await gitrepo.ref_sha(repo.path, "main")
    assert main is not None
    notes = "".join(f"# note {line}\n" for line in range(1, NOTES + 1))
    text = notes + (EXAMPLE / SOURCE).read_text()
    bot = github.state.app.bot
    sha = await gitcommits.commit_files(repo.path, main, {SOURCE: text}, by=bot, message="Notes")
    branch = f"patchbot/issue-{issue}-notes"
    await gitrepo.update_ref(repo.path, f"refs/heads/{branch}", sha)
    number = repo.next_number()
    repo.pulls[number] = Pull(
        number, github.state.new_id(), "Notes", f"Fixes #{issue}", bot, head=branch, base="main"
    )
    return number


async def handled(
    stack: LocalStack, deliveries: list[Delivery], timeout: float = 60
) -> list[tuple[float, float]]:
    """Wait until the server has handled every delivery (none may fail); when each was
    received and when handled."""
    ids = {delivery.delivery_id for delivery in deliveries}
    async with asyncio.timeout(timeout):
        while True:
            waiting = await stack.store.unprocessed_deliveries(limit=1000)
            if not ids & {stored.delivery_id for stored in waiting}:
                break
            await asyncio.sleep(0.02)
    done = []
    for delivery_id in ids:
        stored = await stack.store.get_delivery(delivery_id)
        if stored is None or stored.error is not None or stored.processed_at is None:
            raise RuntimeError(f"delivery {delivery_id} was not handled: {stored}")
        done.append((stored.received_at, stored.processed_at))
    return done


async def one_review(stack: LocalStack, timer: AnswerTimer, size: int) -> dict[str, Any]:
    """A new issue and pull request, then one CHANGES_REQUESTED review with `size` comments."""
    issue = stack.github.add_issue(REPOSITORY, "Notes", "Explain them.", author=MAINTAINER)
    pull = await patchbot_pull(stack, issue.number)
    comments = [(SOURCE, line, f"Note {line}: say why.") for line in range(1, size + 1)]
    timer.seconds.clear()
    sent = time.time()
    _, deliveries = await stack.github.review_pull(
        REPOSITORY, pull, by=MAINTAINER, body="Please explain the notes.", comments=comments
    )
    answered = time.time()
    refused = [(d.event, d.status) for d in deliveries if not 200 <= d.status < 300]
    if refused or len(deliveries) != size + 1:
        raise RuntimeError(f"{len(deliveries)} deliveries for {size} comments; refused {refused}")
    stored = await handled(stack, deliveries)
    feedback = await stack.store.pending_feedback(REPOSITORY, pull)
    if len(feedback) != size + 1:
        raise RuntimeError(f"the store holds {len(feedback)} feedback items, not {size + 1}")
    runs = await stack.store.pull_runs(REPOSITORY, pull)
    return {
        "comments": size,
        "all_answered": answered - sent,
        "all_feedback_stored": max(item.received_at for item in feedback) - sent,
        "all_handled": max(end for _, end in stored) - sent,
        "answers_total": sum(timer.seconds),
        "simulator_building": answered - sent - sum(timer.seconds),
        "last_answer_to_all_handled": max(end for _, end in stored) - answered,
        "runs_created": len(runs),
        "answer_median": statistics.median(timer.seconds),
        "answer_max": max(timer.seconds),
        "handling_median": statistics.median(end - start for start, end in stored),
        "delivery_seconds": list(timer.seconds),
    }


async def intake(root: Path, samples: int) -> dict[int, list[dict[str, Any]]]:
    """`samples` reviews of each size, each on its own new pull request, in one stack with no
    worker (runs stay queued); one discarded review first warms the server and the store."""
    results: dict[int, list[dict[str, Any]]] = {size: [] for size in SIZES}
    async with LocalStack(root, [], workers=0) as stack:
        title, _, body = (EXAMPLE / "ISSUE.md").read_text().partition("\n")
        await stack.seed(REPOSITORY, EXAMPLE, title.strip(), body.strip())
        await handled(stack, list(stack.github.deliveries))  # the installation
        timer = AnswerTimer(stack)
        await one_review(stack, timer, SIZES[0])
        for _ in range(samples):
            for size in SIZES:  # interleaved, so every size sees the same load
                results[size].append(await one_review(stack, timer, size))
    return results


# --- 2. revision cycle ------------------------------------------------------------------------


def revision_script(index: int) -> list[dict[str, Any]]:
    """The agent's answer to review `index`: a distinct comment line above `spread()` (so
    every revision changes the code again), the tests, finish."""
    anchor = "def spread(values: list[float]) -> float:"
    edit = {
        "command": "str_replace",
        "path": f"/workspace/{SOURCE}",
        "old_str": anchor,
        "new_str": f"# Review {index}: noted.\n{anchor}",
    }
    return [
        {
            "role": "assistant",
            "content": f"Review {index} asks for a note.",
            "tool_calls": [
                {"type": "function", "function": {"name": "str_replace_editor", "arguments": edit}}
            ],
        },
        {
            "role": "assistant",
            "content": "Run the tests.",
            "tool_calls": [
                {"type": "function", "function": {"name": "run_tests", "arguments": {}}}
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "type": "function",
                    "function": {
                        "name": "finish",
                        "arguments": {"summary": f"Added note {index} above spread()."},
                    },
                }
            ],
        },
    ]


def marks(events: list[dict[str, Any]], sent: float, run: Run, done: str) -> dict[str, float]:
    """Timestamps the phases run between: the trace's events (each must be there once), when
    the run was queued and when it could start (`not_before`: a first run has no delay)."""

    def ts(kind: str, *steps: str) -> float:
        found = [e["ts"] for e in events if e["kind"] == kind and (not steps or e["step"] in steps)]
        if len(found) != 1:
            raise RuntimeError(f"expected one {kind} {steps} event, the trace has {len(found)}")
        return float(found[0])

    return {
        "sent": sent,
        "queued": run.created_at,
        "not_before": max(run.created_at, run.not_before or 0.0),
        "claimed": ts("claimed"),
        "cloned": ts("pipeline", "cloned", "checked out"),
        "baseline": ts("baseline"),
        "agent_stop": ts("agent_stop"),
        "solved": ts("pipeline", "solved"),
        "pushed": ts("pipeline", "pushed"),
        "done": ts(done),
        "finished": ts("finished"),
    }


def trace_of(stack: LocalStack, run: Run) -> list[dict[str, Any]]:
    return list(read_trace(stack.settings.data_dir / "runs" / f"{run.id}.jsonl"))


async def waited(check: Callable[[], Awaitable[Run | None]], what: str, timeout: float) -> Run:
    deadline = time.monotonic() + timeout
    while (found := await check()) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not end within {timeout:g} s")
        await asyncio.sleep(0.1)
    return found


async def cycle(root: Path, reviews: int) -> dict[str, Any]:
    """One first run, then `reviews` reviews each answered by one revision run."""
    script = load_trajectory(FIX)
    for index in range(1, reviews + 1):
        script += revision_script(index)
    title, _, body = (EXAMPLE / "ISSUE.md").read_text().partition("\n")
    async with LocalStack(root, script, environment={"PATCHBOT_REVISION_DELAY": DELAY}) as stack:
        issue = await stack.seed(REPOSITORY, EXAMPLE, title.strip(), body.strip())
        sent = time.time()
        await stack.github.label_issue(REPOSITORY, issue, "patchbot", by=MAINTAINER)
        run = await stack.finished_run(REPOSITORY, issue)
        if run.state.value != "succeeded":
            raise RuntimeError(f"the first run ended {run.state.value}: {run.summary}")
        first = marks(trace_of(stack, run), sent, run, "pull_request")
        pull = next(iter(stack.github.repo(REPOSITORY).pulls.values()))
        revisions = []
        for index in range(1, reviews + 1):
            before = await stack.github.branch_sha(REPOSITORY, pull.head)
            comment = (SOURCE, REVIEW_LINE, f"Review {index}: please add a note.")
            sent = time.time()
            await stack.github.review_pull(
                REPOSITORY, pull.number, by=MAINTAINER, comments=[comment]
            )

            async def ended(index: int = index) -> Run | None:
                runs = await stack.store.pull_runs(REPOSITORY, pull.number)
                done = len(runs) >= index and not runs[index - 1].state.active
                return runs[index - 1] if done else None

            revision = await waited(ended, f"revision {index}", 300)
            head = await stack.github.branch_sha(REPOSITORY, pull.head)
            if revision.state.value != "succeeded" or head == before:
                raise RuntimeError(
                    f"revision {index} ended {revision.state.value}, "
                    f"branch {before} → {head}: {revision.summary}"
                )
            mark = marks(trace_of(stack, revision), sent, revision, "revision_pushed")
            revisions.append(mark)
            print(
                f"revision {index}: {mark['pushed'] - sent:.2f} s review → new commit",
                file=sys.stderr,
            )
        runs = await stack.store.pull_runs(REPOSITORY, pull.number)
    return {"first": first, "revisions": revisions, "revision_runs": len(runs)}


async def warm_up(root: Path) -> float:
    """One first run in a throwaway stack, so the measured first run is warm like the
    revisions (litellm imported, its first call made, the sandbox image in the page cache)."""
    started = time.perf_counter()
    title, _, body = (EXAMPLE / "ISSUE.md").read_text().partition("\n")
    async with LocalStack(root, load_trajectory(FIX)) as stack:
        issue = await stack.seed(REPOSITORY, EXAMPLE, title.strip(), body.strip())
        await stack.github.label_issue(REPOSITORY, issue, "patchbot", by=MAINTAINER)
        run = await stack.finished_run(REPOSITORY, issue)
        if run.state.value != "succeeded":
            raise RuntimeError(f"the warm-up run ended {run.state.value}: {run.summary}")
    return time.perf_counter() - started


# --- report -----------------------------------------------------------------------------------


def print_intake(results: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
    rows = [
        ("review sent → all N+1 deliveries answered (2xx)", "all_answered"),
        ("  of which the webhook server answering", "answers_total"),
        ("  of which the simulator (diff hunks, payloads)", "simulator_building"),
        ("review sent → store holds all N+1 feedback items", "all_feedback_stored"),
        ("review sent → every delivery handled", "all_handled"),
        ("last answer → every delivery handled", "last_answer_to_all_handled"),
        ("one delivery: sent → answered (median)", "answer_median"),
        ("one delivery: sent → answered (slowest)", "answer_max"),
        ("one delivery: received → handled (median)", "handling_median"),
    ]
    samples = len(results[SIZES[0]])
    header = f"1. intake, seconds (median of {samples} reviews)"
    print(f"{header:52}" + "".join(f"{f'N={size}':>9}" for size in SIZES))
    table: dict[str, Any] = {}
    for label, key in rows:
        values = {size: statistics.median(r[key] for r in results[size]) for size in SIZES}
        print(f"{label:52}" + "".join(f"{values[size]:9.3f}" for size in SIZES))
        table[key] = values
    runs = {size: sorted({r["runs_created"] for r in results[size]}) for size in SIZES}
    print(
        f"{'runs created per review':52}"
        + "".join(f"{'/'.join(map(str, runs[size])):>9}" for size in SIZES)
    )
    table["runs_created"] = runs
    return table


def print_cycle(result: dict[str, Any]) -> dict[str, Any]:
    first, revisions = result["first"], result["revisions"]

    def median(start: str, end: str) -> float:
        return float(statistics.median(mark[end] - mark[start] for mark in revisions))

    header = f"2. revision cycle, seconds (median of {len(revisions)})"
    print(f"\n{header:52} {'revision':>9} {'1st run':>9} {'ratio':>6}")
    rows = [
        ("review (label) → new commit on the branch", "sent", "pushed"),
        ("review (label) → done (= sum of the phases)", "sent", "done"),
    ]
    for name, start, end in PHASES:
        rows.append((f"  {name}", start, end))
        rows += [(f"    {part}", start, end) for part, start, end in PARTS.get(name, [])]
    table: dict[str, Any] = {}
    for label, start, end in rows:
        value, of_first = median(start, end), first[end] - first[start]
        ratio = f"{value / of_first:5.2f}x" if of_first > 0.005 else ""
        print(f"{label:52} {value:9.2f} {of_first:9.2f} {ratio:>6}")
        table[label.strip()] = {"revision": value, "first_run": of_first}
    first_total = first["done"] - first["sent"]
    ratio = median("sent", "pushed") / first_total
    print(f"{'review → new commit / first run label → PR':52} {ratio:9.2f}x")
    print(f"{'revision runs on the pull request':52} {result['revision_runs']:9d}")
    return {
        "rows": table,
        "first_run_total": first_total,
        "review_to_commit_over_first_run": ratio,
        "revision_done_over_first_run": median("sent", "done") / first_total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5, help="reviews per N at intake")
    parser.add_argument("--reviews", type=int, default=5, help="revision runs to time")
    args = parser.parse_args()
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="patchbot-bench-revisions-"))
    try:
        intake_results = asyncio.run(intake(workdir / "intake", args.samples))
        warm = asyncio.run(warm_up(workdir / "warm-up"))
        print(f"warm-up first run: {warm:.2f} s", file=sys.stderr)
        cycle_result = asyncio.run(cycle(workdir / "cycle", args.reviews))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    intake_table = print_intake(intake_results)
    cycle_table = print_cycle(cycle_result)
    results = {
        "intake": {"medians": intake_table, "samples": intake_results},
        "cycle": {**cycle_table, "marks": cycle_result},
        "revision_delay": float(DELAY),
        "warm_up_seconds": warm,
        "load_average": {"before": load_before, "after": os.getloadavg()},
    }
    out = ROOT / "bench" / "results" / "revisions.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
