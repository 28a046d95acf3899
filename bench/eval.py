"""`patchbot eval` benchmark (issue 16) over real repositories of a corpus.

Usage: `python bench/eval.py [--corpus DIR] [--only NAME,...] [--max-commits N]` from the
repository root, with the sandbox images built and the package index reachable (set-up). The
corpus folder (`--corpus DIR` or `PATCHBOT_CORPUS`; the project ships none) holds
`manifest.jsonl` and one `NAME.git.tar.gz`
per repository (see its README); only this script reads it, never the product.

Per repository: mining throughput (commits examined per minute, tasks found per 100 commits)
over the newest N commits, then the mined tasks run with `--model oracle` (must be accepted
and resolved on every task) and `--model tests-only` (must never be resolved; today's judge
may accept it when the tests it adds pass without the fix). Prints a table and writes
`bench/results/eval.json`; the evaluation folders (reports, traces) are kept beside it, and a
second run resumes them (mining and runs alike; `--fresh` starts over). Resumed mining counts
only the commits it examined itself in its throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus import add_corpus_argument, read_manifest  # noqa: E402

from bot.eval.mine import MineOptions, mine  # noqa: E402
from bot.eval.run import RunOptions, evaluate  # noqa: E402
from bot.eval.tasks import read_jsonl  # noqa: E402
from bot.policy.load import default_policy_path  # noqa: E402
from bot.sandbox.local import local_sandbox  # noqa: E402
from bot.solve.solver import docker_sandbox  # noqa: E402
from bot.trace import Redactor  # noqa: E402

DEFAULT_REPOS = "cachetools,sqlparse,glom"
"""Three repositories with suites of a few seconds (see the manifest's `baseline_at_head`)."""
RESULTS = ROOT / "bench" / "results"


def _say(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


async def bench_repo(
    tarball: Path, name: str, max_commits: int, work: Path, concurrency: int, fresh: bool
) -> dict[str, Any]:
    with tarfile.open(tarball) as archive:
        archive.extractall(work, filter="data")
    repo = work / f"{name}.git"
    out = RESULTS / "eval" / name
    if fresh:
        shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    tasks = out / "tasks.jsonl"
    print(f"{name}: mining the newest {max_commits} commits", file=sys.stderr, flush=True)
    options = MineOptions(repo=repo, out=tasks, max_commits=max_commits, concurrency=concurrency)
    mined = await mine(options, local_sandbox, docker_sandbox, _say)
    found = len(list(read_jsonl(tasks)))  # a resumed session's earlier tasks too
    figures: dict[str, Any] = {
        "commits_examined": mined.examined,
        "mining_seconds": round(mined.seconds, 1),
        "commits_per_minute": round(60 * mined.examined / max(mined.seconds, 0.001), 1),
        "tasks": found,
        "tasks_per_100_commits": round(100 * mined.tasks / max(1, mined.examined), 1),
        "rejected": mined.rejected,
    }
    if not found:
        return figures
    for model in ("oracle", "tests-only"):
        print(f"{name}: {model} on {found} task(s)", file=sys.stderr, flush=True)
        started = time.monotonic()
        summary = await evaluate(
            RunOptions(out=out / model, model=model, concurrency=concurrency, repo=repo),
            tasks,
            policy_path=default_policy_path(),
            configured=None,
            redactor=Redactor(),
            opener=docker_sandbox,
            say=_say,
        )
        figures[model] = {
            key: summary[key]
            for key in ("runs", "resolved", "accepted", "accepted_unresolved", "refused_resolved")
        } | {"seconds": round(time.monotonic() - started, 1), "escalations": summary["escalations"]}
    return figures


def _table(results: dict[str, dict[str, Any]]) -> str:
    header = ("repository", "commits", "min", "commits/min", "tasks", "tasks/100",
              "oracle res/acc", "tests-only res/acc")  # fmt: skip
    rows = [header]
    for name, r in results.items():
        oracle, tests = r.get("oracle", {}), r.get("tests-only", {})
        rows.append((
            name, str(r["commits_examined"]), f"{r['mining_seconds'] / 60:.1f}",
            str(r["commits_per_minute"]), str(r["tasks"]), str(r["tasks_per_100_commits"]),
            f"{oracle.get('resolved', 0)}/{oracle.get('accepted', 0)} of {oracle.get('runs', 0)}",
            f"{tests.get('resolved', 0)}/{tests.get('accepted', 0)} of {tests.get('runs', 0)}",
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_corpus_argument(parser)
    parser.add_argument("--only", default=DEFAULT_REPOS, help="comma-separated corpus names")
    parser.add_argument("--max-commits", type=int, default=60, help="commits mined per repo")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="commits mined and tasks run at once"
    )
    parser.add_argument(
        "--fresh", action="store_true", help="start over instead of resuming the kept folders"
    )
    args = parser.parse_args()
    manifest = read_manifest(args.corpus, "bench/eval.py")
    if manifest is None:
        return 2
    entries = {e["name"]: e for e in manifest}
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    missing = [name for name in names if name not in entries]
    if missing:
        print(f"bench/eval.py: not in the corpus: {', '.join(missing)}", file=sys.stderr)
        return 2
    results: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="patchbot-bench-eval-") as scratch:
        for name in names:
            tarball = args.corpus / entries[name]["tarball"]
            work = Path(scratch) / name
            work.mkdir()
            coroutine = bench_repo(
                tarball, name, args.max_commits, work, args.concurrency, args.fresh
            )
            results[name] = asyncio.run(coroutine)
    total = {
        "tasks": sum(r["tasks"] for r in results.values()),
        "commits_examined": sum(r["commits_examined"] for r in results.values()),
        "seconds": round(time.monotonic() - started, 1),
    }
    print(_table(results))
    print(f"total: {total['tasks']} tasks from {total['commits_examined']} commits "
          f"in {total['seconds'] / 60:.1f} min")  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "eval.json").write_text(
        json.dumps({"repositories": results, "total": total}, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
