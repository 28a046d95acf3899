"""Zero-configuration set-up benchmark (issue 19) over the real repositories of a corpus.

Usage: `python bench/setup.py [--corpus DIR] [--only NAME,...] [--skip-old] [--skip-recipe]`
from the repository root, with the sandbox images built and the package index reachable. The
corpus folder (`--corpus DIR` or `PATCHBOT_CORPUS`; the project ships none) holds
`manifest.jsonl` and one `NAME.git.tar.gz`
per repository (see its README).

Per repository, at its head: the zero-configuration set-up and baseline in the sandbox (cold:
a cache scope of its own; then warm: the same again, from the cache), and the maintainer
recipe of the manifest run the same way (its install lines as the set-up command, with pip;
`apt-get` lines left out, since a sandbox has no root; `pipx install` as `pip install`) as
the time reference. Success at head: the suite collects with no errors and passes at least
95% of what the manifest's recipe passed. Then at an old commit (300 first-parent commits
back, or the oldest kept): success is collecting with no errors and at least 90% passing.
Prints both tables and the success counts; writes `bench/results/setup.json`. Every volume
it creates is removed at the end. The default image is built under a tag of its own (see
`ensure_images`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402
import docker.errors  # noqa: E402
from corpus import add_corpus_argument, read_manifest  # noqa: E402

from bot.errors import SetupFailed  # noqa: E402
from bot.sandbox.config import SandboxConfig  # noqa: E402
from bot.sandbox.docker import open_sandbox  # noqa: E402
from bot.sandbox.environments import ENV_LABEL  # noqa: E402
from bot.sandbox.launch import LABEL  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "setup.json"
HEAD_PASS_SHARE = 0.95
OLD_PASS_SHARE = 0.90
OLD_DEPTH = 300
IMAGES = ["python3.9", "python3.13"]
DEFAULT_IMAGE = "python-bench"
"""The default image (`sandbox_images/python`) under a tag only this benchmark builds."""


@dataclass
class Row:
    name: str
    commit: str
    ok: bool = False
    collected: int = 0
    passed: int = 0
    failed: int = 0
    cold: float = 0.0
    """Seconds of the cold set-up (planning, tries, collection check)."""
    warm: float | None = None
    recipe: float | None = None
    """Seconds of the maintainer recipe's set-up run the same way."""
    reference_passed: int | None = None
    image: str = ""
    tries: list[str] = field(default_factory=list)
    error: str = ""


def git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def recipe_commands(recipe: dict[str, Any]) -> str:
    """The recipe's install lines as one set-up command (no root in a sandbox: no apt)."""
    lines = [line for line in recipe["install"] if not line.startswith(("apt-get", "sudo"))]
    lines = [line.replace("pipx install", "python -m pip install") for line in lines]
    return " && ".join(lines)


async def measure(
    workspace: Path, config: SandboxConfig, *, warm: bool, run_tests: bool = True
) -> tuple[Row, list[str]]:
    row = Row(name="", commit="")
    volumes: list[str] = []
    try:
        async with open_sandbox(workspace, config) as sandbox:
            report = sandbox.setup_report
            row.cold = sandbox.setup.duration
            if sandbox.setup.volume:
                volumes.append(sandbox.setup.volume)
            if report is not None:
                row.image = report.image
                row.tries = [
                    f"{t.number}. {t.rule}: {t.outcome} ({t.seconds:.0f} s)" for t in report.tries
                ]
                row.collected = report.tries[-1].collected if report.tries else 0
            if run_tests:
                tests = await sandbox.run_tests()
                row.passed, row.failed = tests.passed, tests.failed
        if warm:
            async with open_sandbox(workspace, config) as sandbox:
                row.warm = sandbox.setup.duration
        row.ok = True
    except SetupFailed as error:
        row.error = str(error).splitlines()[0][:300]
        report = error.report or {}
        row.tries = [
            f"{t['number']}. {t['rule']}: {t['outcome']} ({t['seconds']:.0f} s)"
            for t in report.get("tries", [])
        ]
    return row, volumes


async def bench_head(
    entry: dict[str, Any], bare: Path, tmp: Path, base: SandboxConfig, args: argparse.Namespace
) -> tuple[Row, list[str]]:
    """Zero-configuration at the head, cold then warm, and the maintainer recipe's set-up."""
    name = entry["name"]
    head = checkout(bare, entry["head"], tmp / f"{name}-head")
    row, volumes = await measure(head, base, warm=True)
    row.name, row.commit = name, entry["head"][:12]
    wanted = entry["baseline_at_head"]["passed"]
    row.reference_passed = wanted
    row.ok = row.ok and row.collected > 0 and row.passed >= HEAD_PASS_SHARE * wanted
    if not args.skip_recipe:
        recipe = SandboxConfig(
            image=DEFAULT_IMAGE,
            cache_scope=f"{base.cache_scope}-recipe",
            setup_command=recipe_commands(entry["maintainer_recipe"]),
            test_command=entry["maintainer_recipe"]["test"],
        )
        reference, made = await measure(
            checkout(bare, entry["head"], tmp / f"{name}-recipe"),
            recipe,
            warm=False,
            run_tests=False,
        )
        volumes += made
        row.recipe = reference.cold if reference.ok else None
    return row, volumes


def checkout(bare: Path, commit: str, into: Path) -> Path:
    git("clone", "--quiet", "--no-hardlinks", str(bare), str(into))
    git("checkout", "--quiet", "--detach", commit, cwd=into)
    return into


async def bench_repository(
    entry: dict[str, Any], bare: Path, tmp: Path, run_id: str, args: argparse.Namespace
) -> tuple[Row | None, Row | None, list[str]]:
    name = entry["name"]
    volumes: list[str] = []
    base = SandboxConfig(image=DEFAULT_IMAGE, images=IMAGES, cache_scope=f"bench-{run_id}-{name}")
    row = None
    if not args.skip_head:
        row, made = await bench_head(entry, bare, tmp, base, args)
        volumes += made
    old_row = None
    if not args.skip_old:
        commits = git("rev-list", "--first-parent", entry["head"], cwd=bare).split()
        old = commits[min(OLD_DEPTH, len(commits) - 1)]
        old_config = base.model_copy(update={"cache_scope": f"bench-{run_id}-{name}-old"})
        old_row, made = await measure(
            checkout(bare, old, tmp / f"{name}-old"), old_config, warm=False
        )
        volumes += made
        old_row.name, old_row.commit = name, old[:12]
        ran = old_row.passed + old_row.failed
        old_row.ok = (
            old_row.ok
            and old_row.collected > 0
            and ran > 0
            and (old_row.passed >= OLD_PASS_SHARE * ran)
        )
    return row, old_row, volumes


def table(title: str, rows: list[Row], head: bool) -> None:
    print(f"\n{title}")
    print(
        f"{'repository':<15} {'ok':<3} {'image':<10} {'collected':>9} {'passed':>7} "
        f"{'failed':>6} {'ref':>6} {'cold s':>7} {'warm s':>6} {'recipe s':>8}  tries"
    )
    for row in rows:
        print(
            f"{row.name:<15} {'yes' if row.ok else 'NO':<3} {row.image:<10} {row.collected:>9} "
            f"{row.passed:>7} {row.failed:>6} {row.reference_passed or '':>6} {row.cold:>7.1f} "
            f"{'' if row.warm is None else f'{row.warm:.2f}':>6} "
            f"{'' if row.recipe is None else f'{row.recipe:.1f}':>8}  "
            + " | ".join(row.tries)
            + (f"  [{row.error}]" if row.error else "")
        )
    goal = 15 if head else 13
    print(f"success: {sum(r.ok for r in rows)} of {len(rows)} (goal {goal} of 16)")


def ensure_images() -> None:
    """Build this checkout's images where their tag is not current. The default image is
    built from `sandbox_images/python` under a tag of its own, `DEFAULT_IMAGE`: another
    checkout of Patchbot on the same Docker Engine may rebuild `python` from its own folder
    at any time, which would change the image (and the cache keys) in the middle of a run."""
    from bot.sandbox import images

    client = docker.from_env()
    folder = images.default_images_dir()
    specs = [images.ImageSpec(DEFAULT_IMAGE, folder / "python")]
    specs += [images.ImageSpec(name, folder / name) for name in IMAGES]
    for spec in specs:
        if not images.is_current(spec, client):
            print(f"building image {spec.name} ...", file=sys.stderr, flush=True)
            images.build(spec, client)


def remove_volumes(names: list[str]) -> None:
    client = docker.from_env()
    for name in names:
        for volume in (name, f"{name}-ready"):
            with contextlib.suppress(docker.errors.NotFound):
                client.volumes.get(volume).remove(force=True)


def report(heads: list[Row], olds: list[Row], out: Path) -> None:
    """Print the tables and the summary, and write the results JSON."""
    table("At head (success: collects, >= 95% of the recipe's passes)", heads, head=True)
    if olds:
        table(
            f"At an old commit ({OLD_DEPTH} back; success: collects, >= 90% pass)", olds, head=False
        )
    ratios = [r.cold / r.recipe for r in heads if r.recipe]
    colds = [r.cold for r in heads if r.ok]
    warms = [r.warm for r in heads if r.warm is not None]
    recipes = [r.recipe for r in heads if r.recipe]
    summary = {
        "head_success": sum(r.ok for r in heads),
        "old_success": sum(r.ok for r in olds),
        "repositories": len(heads),
        "cold_median_s": statistics.median(colds) if colds else None,
        "warm_median_s": statistics.median(warms) if warms else None,
        "recipe_median_s": statistics.median(recipes) if recipes else None,
        "cold_to_recipe_median_ratio": statistics.median(ratios) if ratios else None,
    }
    print("\n" + json.dumps(summary, indent=2))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                },
                "summary": summary,
                "head": [asdict(r) for r in heads],
                "old": [asdict(r) for r in olds],
            },
            indent=2,
        )
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_corpus_argument(parser)
    parser.add_argument("--only", default="", help="comma-separated repository names")
    parser.add_argument("--skip-old", action="store_true", help="head commits only")
    parser.add_argument("--skip-head", action="store_true", help="old commits only")
    parser.add_argument("--skip-recipe", action="store_true", help="no maintainer-recipe run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        help="no run: join the results files of runs over parts of the corpus into --out "
        "(a later file's row for a repository replaces an earlier one)",
    )
    args = parser.parse_args()
    if args.merge:
        parts = [json.loads(path.read_text()) for path in args.merge]
        # a later file's row for a repository replaces an earlier one (a rerun)
        heads = {row["name"]: Row(**row) for part in parts for row in part["head"]}
        olds = {row["name"]: Row(**row) for part in parts for row in part["old"]}
        report(list(heads.values()), list(olds.values()), args.out)
        return 0
    entries = read_manifest(args.corpus, "bench/setup.py")
    if entries is None:
        return 2
    only = {n for n in args.only.split(",") if n}
    entries = [e for e in entries if not only or e["name"] in only]
    run_id = uuid.uuid4().hex[:8]
    heads: list[Row] = []
    olds: list[Row] = []
    volumes: list[str] = []
    try:
        for entry in entries:
            with tempfile.TemporaryDirectory(prefix="patchbot-bench-setup-") as tmp_name:
                tmp = Path(tmp_name)
                with tarfile.open(args.corpus / entry["tarball"]) as archive:
                    archive.extractall(tmp, filter="data")
                bare = tmp / f"{entry['name']}.git"
                ensure_images()
                started = time.monotonic()
                head, old, made = await bench_repository(entry, bare, tmp, run_id, args)
                volumes += made
                if head is not None:
                    heads.append(head)
                if old is not None:
                    olds.append(old)
                report(
                    heads, olds, args.out
                )  # after each repository: a partial run keeps its figures
                verdicts = "" if head is None else f"head {'ok' if head.ok else 'FAILED'} "
                if old is not None:
                    verdicts += f"old {'ok' if old.ok else 'FAILED'}"
                took = time.monotonic() - started
                print(f"{entry['name']}: {verdicts} ({took:.0f} s)", file=sys.stderr, flush=True)
    finally:
        remove_volumes(volumes)
        client = docker.from_env()  # and any left by a set-up that failed part-way
        for volume in client.volumes.list(filters={"label": [LABEL, ENV_LABEL]}):
            if f"bench-{run_id}" in json.dumps(volume.attrs.get("Labels") or {}):
                volume.remove(force=True)
    report(heads, olds, args.out)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(main()))
