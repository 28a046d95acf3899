"""Benchmark: verification's cost, before and after proof by failing first (issue 13).

For each example repository and a candidate patch that changes a source file and adds a test
module (for `buggy_stats`, the real fix and its test), times in the same run:

- old: the base suite and the candidate suite, one fresh sandbox each (verification until
  issue 13: baseline + candidate);
- new: the base suite (failures run again in-process), then `Proof.verify` (the candidate
  run, the run without the fix and the base's tests on the fix, concurrently, with reruns).

Prints a table with the median of each and the median of the paired ratios (goal: new <= 1.3
x old; old and new alternate which runs first), writes bench/results/verify.json.

    python bench/verify.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.sandbox.config import SandboxConfig  # noqa: E402
from bot.solve.checkout import Checkouts  # noqa: E402
from bot.solve.proof import Proof, collapse  # noqa: E402
from bot.solve.solver import docker_sandbox  # noqa: E402
from bot.solve.verify import VerifyConfig, run_suite  # noqa: E402

EXAMPLES = ROOT / "tests" / "examples"
NAMES = ["buggy_stats", "calc", "mixed", "unittest_only", "src_layout", "with_deps"]
NEW_TEST = """import unittest


class TestBench(unittest.TestCase):
    def test_new(self):
        self.assertTrue(True)
"""
BUG = "    return ordered[middle]\n"
FIX = (
    "    if len(ordered) % 2 == 0:\n        return (ordered[middle - 1] + ordered[middle]) / 2\n"
    + BUG
)
EVEN_TEST = "\n\ndef test_median_of_even_count() -> None:\n    assert median([4, 1, 3, 2]) == 2.5\n"


def make_repo(name: str, root: Path) -> Path:
    repo = root / name
    shutil.copytree(EXAMPLES / name, repo)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    commit = ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "base"]
    subprocess.run(["git", *commit], cwd=repo, check=True)
    return repo


def edit(name: str, tree: Path) -> None:
    """The candidate: a source change and a new test module."""
    if name == "buggy_stats":
        source = tree / "stats" / "__init__.py"
        source.write_text(source.read_text().replace(BUG, FIX))
        tests = tree / "tests" / "test_stats.py"
        tests.write_text(tests.read_text() + EVEN_TEST)
        return
    sources = [
        p
        for p in sorted(tree.rglob("*.py"))
        if ".git" not in p.parts and "tests" not in p.parts and not p.name.startswith("test")
    ]
    if sources:
        sources[0].write_text(sources[0].read_text() + "\n# changed\n")
    (tree / "tests" / "test_bench_new.py").write_text(NEW_TEST)


async def old_style(checkouts: Checkouts, patch: str, config: SandboxConfig) -> float:
    started = time.monotonic()
    base = checkouts.fresh(checkouts.root / "old-base")
    await run_suite(base, config, docker_sandbox)
    tree = checkouts.candidate("old-candidate", patch)
    await run_suite(tree, config, docker_sandbox)
    return time.monotonic() - started


async def new_style(checkouts: Checkouts, patch: str, config: SandboxConfig) -> tuple[float, str]:
    started = time.monotonic()
    verify = VerifyConfig()
    tree = checkouts.fresh(checkouts.root / "new-base")
    async with docker_sandbox(tree, config) as sandbox:
        baseline, flaky = collapse(await sandbox.run_tests(reruns=verify.reruns))
    proof = Proof(checkouts, config, verify, docker_sandbox)
    verification, _ = await proof.verify("new-candidate", patch, baseline, flaky)
    return time.monotonic() - started, verification.reason


async def measure(name: str, repeat: int) -> dict[str, Any]:
    config = SandboxConfig()
    old: list[float] = []
    new: list[float] = []
    reason = ""
    with tempfile.TemporaryDirectory(prefix="patchbot-bench-verify-") as temp:
        repo = make_repo(name, Path(temp))
        warm = Checkouts(repo, Path(temp) / "warm")  # the set-up environment, built once
        await run_suite(warm.work, config, docker_sandbox)
        for index in range(repeat):
            checkouts = Checkouts(repo, Path(temp) / f"run-{index}")
            edit(name, checkouts.work)
            patch = checkouts.diff()
            if index % 2:  # alternate which goes first: a loaded host drifts
                seconds, reason = await new_style(checkouts, patch, config)
                old.append(await old_style(checkouts, patch, config))
            else:
                old.append(await old_style(checkouts, patch, config))
                seconds, reason = await new_style(checkouts, patch, config)
            new.append(seconds)
    old_median, new_median = statistics.median(old), statistics.median(new)
    return {
        "example": name,
        "old_s": round(old_median, 2),
        "new_s": round(new_median, 2),
        "ratio": round(statistics.median(n / o for n, o in zip(new, old, strict=True)), 2),
        "verdict": reason,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = [asyncio.run(measure(name, args.repeat)) for name in NAMES]
    print("| example | old: base + candidate (s) | new: proof (s) | ratio | verdict |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['example']} | {row['old_s']} | {row['new_s']} | {row['ratio']}x "
            f"| {row['verdict']} |"
        )
    ratios = [row["ratio"] for row in rows]
    summary = {"median_ratio": statistics.median(ratios), "max_ratio": max(ratios)}
    print(f"\nmedian ratio {summary['median_ratio']}x, worst {summary['max_ratio']}x")
    out = ROOT / "bench" / "results" / "verify.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"rows": rows, **summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
