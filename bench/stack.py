"""Benchmark (issue 18): the production-like stack from nothing, as an operator starts it.

`deploy/stack up` is timed cold (Patchbot's and PostgreSQL's images removed first, so it
builds both with no registry, then starts the database, the server and two workers and waits
for /readyz), then `deploy/stack down` and `up` again warm (images and the database volume
kept). After each `up`, an issue labelled on the simulated GitHub (Docker's bridge gateway,
this machine only) becomes a pull request through the stack, with the scripted model: the
first run of a fresh worker, then one of a warm stack. Prints a table, writes
bench/results/stack.json.

    python bench/stack.py [--warm-only]     # --warm-only keeps the images: no cold build
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import docker
import docker.errors

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.agent.scripted import load_trajectory  # noqa: E402
from bot.testing.deployed import DeployedStack  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "stack.json"
EXAMPLE = ROOT / "tests" / "examples" / "buggy_stats"
TRAJECTORY = ROOT / "bot" / "agent" / "trajectories" / "fix_median.jsonl"
IMAGES = ("patchbot", "patchbot-postgres")
"""What `deploy/build` makes (the sandbox images are `patchbot images build`'s, kept)."""


def remove_images() -> None:
    client = docker.from_env()
    try:
        for name in IMAGES:
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.images.remove(name, force=True)
    finally:
        client.close()


async def issue_to_pull(deployed: DeployedStack, label: str) -> float:
    """Seconds from labelling a new issue to its pull request's completed check run."""
    title, _, body = (EXAMPLE / "ISSUE.md").read_text().partition("\n")
    started = time.monotonic()
    number, checks = await deployed.fix(f"{title.strip()} ({label})", body.strip())
    seconds = time.monotonic() - started
    if [check.conclusion for check in checks] != ["success"] or len(deployed.pulls(number)) != 1:
        logs = await deployed.stack("logs", "--tail", "40")
        raise RuntimeError(f"issue #{number} ({label}) got no verified pull request:\n{logs}")
    return seconds


async def measure(cold: bool) -> dict[str, Any]:
    script = load_trajectory(TRAJECTORY) * 2  # one fix per `up`
    with tempfile.TemporaryDirectory(prefix="patchbot-bench-stack-") as folder:
        async with DeployedStack(Path(folder), EXAMPLE, "octo/stats", script) as deployed:
            if cold:
                remove_images()
            results: dict[str, Any] = {"cold": cold}
            try:
                results["first_up_s"] = round(await deployed.up(), 2)
                results["first_issue_to_pr_s"] = round(await issue_to_pull(deployed, "1"), 2)
                started = time.monotonic()
                await deployed.stack("down")
                results["down_s"] = round(time.monotonic() - started, 2)
                results["warm_up_s"] = round(await deployed.up(), 2)
                results["warm_issue_to_pr_s"] = round(await issue_to_pull(deployed, "2"), 2)
            finally:
                await deployed.stack("down", "--volumes")
    return results


def report(results: dict[str, Any]) -> None:
    first = "cold (images built)" if results["cold"] else "first (images there)"
    print(f"{'':28} {'stack up':>9} {'issue → PR':>11}")
    print(f"{first:28} {results['first_up_s']:>8}s {results['first_issue_to_pr_s']:>10}s")
    print(
        f"{'warm (after down)':28} {results['warm_up_s']:>8}s {results['warm_issue_to_pr_s']:>10}s"
    )
    print(f"stack down: {results['down_s']} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm-only", action="store_true", help="keep the images: no cold build")
    args = parser.parse_args()
    results = asyncio.run(measure(cold=not args.warm_only))
    report(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
