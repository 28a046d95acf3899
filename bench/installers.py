"""The set-up's installer (issue 19): uv against pip on the same install of real repositories.

Usage: `python bench/installers.py [--corpus DIR] [--only NAME,...] [--rounds N]` from the
repository root, with the sandbox images built and the package index reachable. For each
repository of the corpus (see `bench/setup.py`), the planner's first install at its head is
run in one set-up container (the real set-up network, through the proxy) with pip and with
uv, alternately, each from an empty cache and a fresh venv; the table shows the median
seconds of each and the ratio. Writes `bench/results/installers.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus import add_corpus_argument, read_manifest  # noqa: E402
from docker.types import Mount  # noqa: E402

from bot.sandbox.config import SandboxConfig  # noqa: E402
from bot.sandbox.docker import docker_client  # noqa: E402
from bot.sandbox.images import find_image  # noqa: E402
from bot.sandbox.launch import Launcher, environment  # noqa: E402
from bot.sandbox.models import ExecResult  # noqa: E402
from bot.sandbox.setup_network import setup_container  # noqa: E402
from bot.sandbox.setup_phase import CHECKOUT  # noqa: E402
from bot.sandbox.workspace import sandbox_user  # noqa: E402
from bot.setup.install import install_commands, venv_commands  # noqa: E402
from bot.setup.paths import WORKSPACE  # noqa: E402
from bot.setup.planner import plan, pythonpath  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "installers.json"
DEFAULT_ONLY = "attrs,click,tenacity,arrow,webob"


async def measure(checkout: Path, rounds: int, image: str) -> dict[str, list[float]]:
    planned = plan(checkout)
    client = docker_client()
    launcher = Launcher(client, find_image(client, image), SandboxConfig())
    user = sandbox_user(checkout, take_ownership=True)
    mounts = [Mount(CHECKOUT, str(checkout), type="bind", read_only=True)]
    variables = {**environment(pythonpath(checkout)), "UV_CACHE_DIR": "/tmp/uv-cache"}
    times: dict[str, list[float]] = {"pip": [], "uv": []}
    async with setup_container(launcher, user, mounts, variables) as (_, channel, _proxy):

        async def run(command: str) -> ExecResult:
            answer = await channel.run(command, cwd=WORKSPACE, timeout=900, cap=65536)
            return ExecResult.model_validate(answer)

        await run(f"cp -a {CHECKOUT}/. {WORKSPACE}/")
        for _ in range(rounds):
            for installer in ("pip", "uv"):
                await run("rm -rf /tmp/uv-cache /tmp/home/.cache /tmp/env && mkdir -p /tmp/env")
                commands = venv_commands(installer, planned.install)
                commands += install_commands(installer, planned.install, checkout)
                script = " && ".join(c.replace("/env/venv", "/tmp/env/venv") for c in commands)
                started = time.monotonic()
                result = await run(script)
                if not result.ok:
                    raise RuntimeError(f"{installer} failed: {result.stderr[-500:]}")
                times[installer].append(time.monotonic() - started)
    return times


def clone(bare: Path, into: Path) -> Path:
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(bare), str(into)], check=True)
    return into


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_corpus_argument(parser)
    parser.add_argument("--only", default=DEFAULT_ONLY, help="comma-separated repository names")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--image", default="python", help="the image (`python-bench`: bench/setup.py's copy)"
    )
    args = parser.parse_args()
    manifest = read_manifest(args.corpus, "bench/installers.py")
    if manifest is None:
        return 2
    entries = {e["name"]: e for e in manifest}
    rows = {}
    for name in args.only.split(","):
        entry = entries[name]
        with tempfile.TemporaryDirectory(prefix="patchbot-bench-installers-") as tmp_name:
            tmp = Path(tmp_name)
            with tarfile.open(args.corpus / entry["tarball"]) as archive:
                archive.extractall(tmp, filter="data")
            checkout = clone(tmp / f"{name}.git", tmp / name)
            rows[name] = await measure(checkout, args.rounds, args.image)
        pip, uv = (statistics.median(rows[name][k]) for k in ("pip", "uv"))
        print(f"{name:<15} pip {pip:6.1f} s   uv {uv:6.1f} s   pip/uv {pip / uv:4.1f}x", flush=True)
    ratios = [statistics.median(r["pip"]) / statistics.median(r["uv"]) for r in rows.values()]
    print(f"median pip/uv: {statistics.median(ratios):.1f}x over {len(rows)} repositories")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rounds": args.rounds, "seconds": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
