"""Sandbox benchmark (issues 2, 14): container ready, per-exec overhead, test wall time,
set-up cache, disk limit.

Usage: `python bench/sandbox.py [--quick]` from the repository root, with the sandbox images
built (`python -m bot images build`) and set-up network available (a cold set-up pip-installs
the `with_deps` example's one package). Prints a table of medians, p90s and ratios from one
run and writes `bench/results/sandbox.json`. Every volume it creates is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import docker  # noqa: E402
import docker.errors  # noqa: E402
from docker.models.containers import Container, ContainerCollection  # noqa: E402

from bot.sandbox.channel import ExecChannel  # noqa: E402
from bot.sandbox.config import SandboxConfig  # noqa: E402
from bot.sandbox.disk import attach, can_limit, detach  # noqa: E402
from bot.sandbox.docker import DockerSandbox, open_sandbox  # noqa: E402
from bot.sandbox.images import find_image  # noqa: E402
from bot.sandbox.launch import LABEL, OWNER_LABEL, owner_label  # noqa: E402
from bot.sandbox.testrun import JUNIT_PATH, plan_tests  # noqa: E402
from bot.sandbox.workspace import copy_tree  # noqa: E402

EXAMPLES = ROOT / "tests" / "examples"
RESULTS = ROOT / "bench" / "results" / "sandbox.json"
SUITES = ("calc", "synthetic")
GOAL_FIRST_EXEC_AFTER_START = 0.5
GOAL_EXEC_OVERHEAD = 0.030
GOAL_TEST_RATIO = 1.2
GOAL_CACHED_SETUP_SHARE = 0.10

LEAVES_PROCESSES = "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 60 & done"
"""A command that leaves ten processes running, for the exec server to kill when it ends."""
DISK_TREE_FILES = 2000
DISK_TREE_FILE_BYTES = 16 * 1024
"""A checkout of 2,000 files of 16 KiB (31 MiB), for the disk limit's copying."""

SYNTHETIC_FILES = 10
SYNTHETIC_TESTS_PER_FILE = 30
CPU_PROBE = "\n".join(
    [
        f"for n in range({SYNTHETIC_FILES} * {SYNTHETIC_TESTS_PER_FILE}):",
        "    total = 0",
        f"    for i in range(20000 + n % {SYNTHETIC_TESTS_PER_FILE}):",
        "        total += i * i % 7",
    ]
)
"""The synthetic suite's loops with no pytest around them (no single quotes: goes in '...')."""
SYNTHETIC_TEST = """
@pytest.mark.parametrize("n", range({count}))
def test_work_{index}(n):
    total = 0
    for i in range(20000 + n):
        total += i * i % 7
    assert total > 0
"""


@dataclass
class Plan:
    """How many samples each measurement takes."""

    cold: int
    """Cold opens, each on a new set-up key (a pip install each)."""
    cached_opens: int
    """Opens of `calc` from the cache, timed by phase; also bare containers (engine floor)."""
    execs: int
    """Calls of each of `true` and `echo hi`, in the sandbox and natively."""
    docker_execs: int
    """Calls of `docker exec true` on the sandbox's container, and of a command leaving ten
    processes behind."""
    suite_runs: int
    """Runs of the synthetic suite (and the CPU probe), in the sandbox and natively."""
    small_suite_runs: int
    """Runs of `calc`, whose 0.3 s make it noisier than the synthetic suite."""
    cached_setups: int
    """Cached opens of the last cold repository, for set-up first vs cached."""
    disks: int
    """Disk limits attached and detached, on each of `calc` and a 2,000-file tree."""


FULL = Plan(
    cold=3,
    cached_opens=10,
    execs=200,
    docker_execs=50,
    suite_runs=5,
    small_suite_runs=15,
    cached_setups=5,
    disks=10,
)
QUICK = Plan(
    cold=1,
    cached_opens=3,
    execs=30,
    docker_execs=10,
    suite_runs=2,
    small_suite_runs=3,
    cached_setups=2,
    disks=3,
)


def stats(samples: list[float]) -> dict[str, float]:
    """n, median, p90 (nearest rank), min and max of samples in seconds."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, -(-9 * len(ordered) // 10) - 1))
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "p90": ordered[rank],
        "min": ordered[0],
        "max": ordered[-1],
    }


# --- instrumentation: timestamps of the container calls inside open_sandbox -----------------


@dataclass
class Probe:
    """Records when `open_sandbox` creates and starts a container and hears its greeting."""

    events: list[tuple[str, float]] = field(default_factory=list)

    def last(self, name: str) -> float:
        return next(t for event, t in reversed(self.events) if event == name)


@contextlib.contextmanager
def probing(probe: Probe) -> Iterator[None]:
    """Wrap three calls to timestamp them (benchmark instrumentation only; restored after)."""
    create, start, ready = ContainerCollection.create, Container.start, ExecChannel.ready

    def timed_create(self: ContainerCollection, *args: Any, **kwargs: Any) -> Container:
        probe.events.append(("create", time.monotonic()))
        container = create(self, *args, **kwargs)
        probe.events.append(("created", time.monotonic()))
        return container

    def timed_start(self: Container, *args: Any, **kwargs: Any) -> None:
        probe.events.append(("start", time.monotonic()))
        start(self, *args, **kwargs)
        probe.events.append(("started", time.monotonic()))

    async def timed_ready(self: ExecChannel, timeout: float) -> dict[str, Any]:
        greeting = await ready(self, timeout)
        probe.events.append(("greeting", time.monotonic()))
        return greeting

    ContainerCollection.create = timed_create  # type: ignore[method-assign]
    Container.start = timed_start  # type: ignore[method-assign]
    ExecChannel.ready = timed_ready  # type: ignore[method-assign]
    try:
        yield
    finally:
        ContainerCollection.create = create  # type: ignore[method-assign]
        Container.start = start  # type: ignore[method-assign]
        ExecChannel.ready = ready  # type: ignore[method-assign]


@dataclass
class Opening:
    """The phases of one `open_sandbox` up to the first exec answered, in seconds."""

    ready: float
    """Entry into open_sandbox until `true` was answered."""
    prepare: float
    """Entry until the test container's create call (client, image, chown, plan, set-up)."""
    create: float
    attach: float
    start: float
    greeting: float
    """From the start call's return to the exec server's greeting."""
    first_exec: float
    """From the greeting to the first answer."""
    after_start: float
    """From the start request to the first exec answered: the issue's goal."""
    after_started: float
    """From the start call's return to the first exec answered."""
    after_create: float
    """From the create request to the first exec answered."""
    teardown: float
    setup_cached: bool
    setup_duration: float
    volume: str | None


Body = Callable[[DockerSandbox], Awaitable[None]]


async def timed_open(workspace: Path, config: SandboxConfig, body: Body | None = None) -> Opening:
    """Open a sandbox, answer `true`, run `body`, close; report where the time went."""
    probe = Probe()
    with probing(probe):
        entered = time.monotonic()
        async with open_sandbox(workspace, config) as sandbox:
            result = await sandbox.exec("true", timeout=30)
            answered = time.monotonic()
            if result.exit_code != 0:
                raise RuntimeError(f"`true` failed in the sandbox: {result}")
            setup = sandbox.setup
            if body is not None:
                await body(sandbox)
            closing = time.monotonic()
        closed = time.monotonic()
    create, start = probe.last("create"), probe.last("start")
    return Opening(
        ready=answered - entered,
        prepare=create - entered,
        create=probe.last("created") - create,
        attach=start - probe.last("created"),
        start=probe.last("started") - start,
        greeting=probe.last("greeting") - probe.last("started"),
        first_exec=answered - probe.last("greeting"),
        after_start=answered - start,
        after_started=answered - probe.last("started"),
        after_create=answered - create,
        teardown=closed - closing,
        setup_cached=setup.cached,
        setup_duration=setup.duration,
        volume=setup.volume,
    )


def engine_floor(client: docker.DockerClient) -> dict[str, float]:
    """A bare container of the same image (no limits, mounts or hardening) printing one line
    through the attach socket: what the Docker Engine alone costs, for comparison."""
    image = find_image(client, "python")
    began = time.monotonic()
    container = client.containers.create(
        str(image.id),
        command=["sh", "-c", "echo ready; exec cat"],
        stdin_open=True,
        network_mode="none",
        labels={LABEL: "1", OWNER_LABEL: owner_label()},
    )
    try:
        created = time.monotonic()
        params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        raw = client.api.attach_socket(str(container.id), params)
        sock = getattr(raw, "_sock", raw)
        sock.settimeout(30)
        starting = time.monotonic()
        container.start()
        started = time.monotonic()
        sock.recv(8)
        answered = time.monotonic()
        sock.close()
    finally:
        container.remove(force=True)
    return {
        "create": created - began,
        "start": started - starting,
        "first_byte": answered - started,
        "after_start": answered - starting,
    }


# --- workspaces ------------------------------------------------------------------------------


def example_copy(name: str, parent: Path, label: str) -> Path:
    return copy_tree(EXAMPLES / name, parent / label)


def unique_with_deps(parent: Path) -> Path:
    """A copy of `with_deps` whose requirements file, hence set-up cache key, is new."""
    repo = example_copy("with_deps", parent, f"with_deps-{uuid.uuid4().hex[:8]}")
    requirements = repo / "requirements.txt"
    requirements.write_text(
        requirements.read_text() + f"# bench key {uuid.uuid4().hex}\n", encoding="utf-8"
    )
    return repo


def synthetic_suite(parent: Path) -> Path:
    """300 small pytest tests with a little CPU each, so startup does not dominate."""
    repo = parent / "synthetic"
    (repo / "tests").mkdir(parents=True)
    (repo / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n", encoding="utf-8")
    for index in range(SYNTHETIC_FILES):
        test = SYNTHETIC_TEST.format(count=SYNTHETIC_TESTS_PER_FILE, index=index)
        body = "import pytest\n" + test
        (repo / "tests" / f"test_work_{index}.py").write_text(body, encoding="utf-8")
    return repo


def native_run(
    argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> float:
    """Wall time of one command run on the host; raises when it fails."""
    began = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"native run of {argv} failed:\n{done.stdout[-2000:]}{done.stderr}")
    return took


def native_leaving(command: str) -> float:
    """Wall time of a command run on the host that leaves processes behind; then kills them."""
    began = time.perf_counter()
    process = subprocess.Popen(["bash", "-c", command], start_new_session=True)
    process.wait()
    took = time.perf_counter() - began
    os.killpg(process.pid, signal.SIGKILL)  # what it left is in its process group
    return took


# --- measurements ----------------------------------------------------------------------------


class Bench:
    def __init__(self, plan: Plan, scratch: Path) -> None:
        self.plan = plan
        self.scratch = scratch
        self.config = SandboxConfig()
        self.client = docker.from_env()
        self.created_volumes: set[str] = set()
        self.results: dict[str, Any] = {}

    def note_volume(self, opening: Opening) -> None:
        if not opening.setup_cached and opening.volume:
            self.created_volumes.add(opening.volume)

    async def opened(self, workspace: Path, body: Body | None = None) -> Opening:
        opening = await timed_open(workspace, self.config, body)
        self.note_volume(opening)
        return opening

    async def ready_and_setup(self) -> None:
        """Measurements 1 and 4: cold opens on new keys, then cached opens."""
        cold: list[Opening] = []
        for _ in range(self.plan.cold):
            repo = unique_with_deps(self.scratch)
            cold.append(await self.opened(repo))
        if any(o.setup_cached for o in cold):
            raise RuntimeError("a unique dependency key hit the set-up cache")
        cached_deps = [await self.opened(repo) for _ in range(self.plan.cached_setups)]
        calc = example_copy("calc", self.scratch, "calc-ready")
        await self.opened(calc)  # warm (no-op when the example's environment exists)
        cached = [await self.opened(calc) for _ in range(self.plan.cached_opens)]
        if not all(o.setup_cached for o in cached + cached_deps):
            raise RuntimeError("a reopened repository missed the set-up cache")
        floor = [engine_floor(self.client) for _ in range(self.plan.cached_opens)]

        def phases(openings: list[Opening]) -> dict[str, dict[str, float]]:
            names = ["ready", "prepare", "create", "attach", "start", "greeting", "first_exec"]
            names += ["after_start", "after_started", "after_create", "teardown"]
            names += ["setup_duration"]
            return {name: stats([getattr(o, name) for o in openings]) for name in names}

        first_setup = statistics.median(o.setup_duration for o in cold)
        cached_setup = statistics.median(o.setup_duration for o in cached_deps)
        first_ready = statistics.median(o.ready for o in cold)
        cached_ready = statistics.median(o.ready for o in cached_deps)
        self.results["ready"] = {
            "cold_with_deps": phases(cold),
            "cached_with_deps": phases(cached_deps),
            "cached_calc": phases(cached),
            "engine_floor": {
                name: stats([sample[name] for sample in floor])
                for name in ("create", "start", "first_byte", "after_start")
            },
        }
        self.results["setup"] = {
            "first_setup_median": first_setup,
            "cached_setup_median": cached_setup,
            "cached_over_first_setup": cached_setup / first_setup,
            "first_ready_median": first_ready,
            "cached_ready_median": cached_ready,
            "cached_over_first_ready": cached_ready / first_ready,
        }

    async def exec_overhead(self) -> None:
        """Measurement 2: `true`/`echo hi` via the exec server vs natively, then docker exec."""
        samples: dict[str, list[float]] = {}

        async def body(sandbox: DockerSandbox) -> None:
            for command in ("true", "echo hi"):
                inside, native = samples[f"sandbox {command}"], samples[f"native {command}"]
                for round_ in range(self.plan.execs + 10):  # interleaved: load drifts alike
                    began = time.perf_counter()
                    await sandbox.exec(command, timeout=30)
                    took = time.perf_counter() - began
                    native_took = native_run(["bash", "-c", command])
                    if round_ >= 10:  # the first ten warm up both
                        inside.append(took)
                        native.append(native_took)
            for _ in range(self.plan.docker_execs):  # the same count: a few seconds
                began = time.perf_counter()
                await sandbox.exec(LEAVES_PROCESSES, timeout=30)
                samples["sandbox leaves 10 processes"].append(time.perf_counter() - began)
                samples["native leaves 10 processes"].append(native_leaving(LEAVES_PROCESSES))
            container = sandbox.container
            container.exec_run("true")
            for _ in range(self.plan.docker_execs):
                began = time.perf_counter()
                exit_code, _ = container.exec_run("true")
                samples["docker exec true"].append(time.perf_counter() - began)
                if exit_code != 0:
                    raise RuntimeError(f"docker exec of `true` exited {exit_code}")

        for name in ("sandbox true", "native true", "sandbox echo hi", "native echo hi"):
            samples[name] = []
        samples["sandbox leaves 10 processes"] = []
        samples["native leaves 10 processes"] = []
        samples["docker exec true"] = []
        await self.opened(example_copy("calc", self.scratch, "calc-exec"), body)
        summary = {name: stats(times) for name, times in samples.items()}
        med = {name: s["median"] for name, s in summary.items()}
        self.results["exec"] = {
            "samples": summary,
            "overhead_true": med["sandbox true"] - med["native true"],
            "overhead_echo": med["sandbox echo hi"] - med["native echo hi"],
            "ending_10_processes": med["sandbox leaves 10 processes"]
            - med["native leaves 10 processes"]
            - (med["sandbox true"] - med["native true"]),
            "docker_exec_over_sandbox_exec": med["docker exec true"] / med["sandbox true"],
        }

    async def test_wall_time(self) -> None:
        """Measurement 3: run_tests in an open sandbox vs the same pytest command on the host."""
        suites: dict[str, Any] = {}
        for name in SUITES:
            if name == "calc":
                inside, native = (example_copy("calc", self.scratch, f"calc-{w}") for w in "sn")
            else:
                inside, native = (synthetic_suite(self.scratch / f"synthetic-{w}") for w in "sn")
            runs = self.plan.small_suite_runs if name == "calc" else self.plan.suite_runs
            suites[name] = await self.suite_runs(inside, native, runs)
        suites["cpu_probe"] = await self.cpu_probe()
        self.results["tests"] = suites

    async def suite_runs(self, inside: Path, native: Path, runs: int) -> dict[str, Any]:
        """`run_tests` in one open sandbox and the same pytest command on the host, alternately,
        each after one warm-up run."""
        junit = self.scratch / f"{native.name}-junit.xml"
        command = plan_tests(native).command.replace(JUNIT_PATH, str(junit))
        command = command.replace("python -m", f"{sys.executable} -m", 1)
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(native)}
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the sandbox has none; the host's cost ~1 s
        times: dict[str, list[float]] = {"sandbox": [], "native": []}
        passed: list[int] = []

        async def body(sandbox: DockerSandbox) -> None:
            for round_ in range(runs + 1):
                began = time.perf_counter()
                report = await sandbox.run_tests()
                took = time.perf_counter() - began
                if not report.all_passed:
                    raise RuntimeError(f"{inside} failed in the sandbox: {report.output_tail}")
                native_took = native_run(["bash", "-c", command], cwd=native, env=env)
                if round_:
                    times["sandbox"].append(took)
                    times["native"].append(native_took)
                    passed.append(report.passed)

        await self.opened(inside, body)
        fresh: list[float] = []

        async def first_run(sandbox: DockerSandbox) -> None:
            began = time.perf_counter()
            await sandbox.run_tests()
            fresh.append(time.perf_counter() - began)

        for _ in range(self.plan.suite_runs):  # as Patchbot runs: once per new container
            await self.opened(inside, first_run)
        native_median = statistics.median(times["native"])
        return {
            "tests": min(passed),
            "sandbox": stats(times["sandbox"]),
            "native": stats(times["native"]),
            "ratio": statistics.median(times["sandbox"]) / native_median,
            "sandbox_fresh": stats(fresh),
            "ratio_fresh": statistics.median(fresh) / native_median,
        }

    async def cpu_probe(self) -> dict[str, Any]:
        """The synthetic suite's CPU work alone, in the sandbox's python and the host's: tells
        interpreter speed apart from sandbox overhead."""
        times: dict[str, list[float]] = {"sandbox": [], "native": []}

        async def body(sandbox: DockerSandbox) -> None:
            for round_ in range(self.plan.suite_runs + 1):
                result = await sandbox.exec(f"python3 -c '{CPU_PROBE}'", timeout=120)
                native_took = native_run([sys.executable, "-c", CPU_PROBE])
                if result.exit_code != 0:
                    raise RuntimeError(f"the CPU probe failed in the sandbox: {result.stderr}")
                if round_:
                    times["sandbox"].append(result.duration)
                    times["native"].append(native_took)

        await self.opened(example_copy("calc", self.scratch, "calc-cpu"), body)
        return {
            "sandbox": stats(times["sandbox"]),
            "native": stats(times["native"]),
            "ratio": statistics.median(times["sandbox"]) / statistics.median(times["native"]),
        }

    async def disk_limit(self) -> None:
        """Measurement 5: the disk limit on `calc` and on a 31 MiB tree of 2,000 files: attach
        (mkfs, mounts), then detach after 20 files written (apply them, unmount)."""
        if not can_limit():
            self.results["disk"] = None  # not root: sandboxes run without a disk limit
            return
        tree = self.scratch / "disk-tree"
        tree.mkdir()
        for index in range(DISK_TREE_FILES):
            (tree / f"file-{index}.txt").write_bytes(os.urandom(DISK_TREE_FILE_BYTES))
        results: dict[str, Any] = {}
        calc = example_copy("calc", self.scratch, "calc-disk")
        for name, folder in (("calc", calc), ("tree", tree)):
            times: dict[str, list[float]] = {"attach": [], "detach": []}
            for _ in range(self.plan.disks):
                began = time.perf_counter()
                disk = await asyncio.to_thread(attach, folder, self.config.disk_mb)
                attached = time.perf_counter()
                for index in range(10):  # 10 files changed, 10 new: what an agent might do
                    (folder / f"file-{index}.txt").write_bytes(os.urandom(DISK_TREE_FILE_BYTES))
                    (folder / f"new-{index}.txt").write_bytes(os.urandom(DISK_TREE_FILE_BYTES))
                changed = time.perf_counter()
                await asyncio.to_thread(detach, disk)
                times["attach"].append(attached - began)
                times["detach"].append(time.perf_counter() - changed)
            results[name] = {phase: stats(samples) for phase, samples in times.items()}
        self.results["disk"] = results

    def remove_volumes(self) -> list[str]:
        removed = []
        for name in sorted(self.created_volumes):
            for volume in (name, f"{name}-ready"):
                with contextlib.suppress(docker.errors.NotFound):
                    self.client.volumes.get(volume).remove(force=True)
                    removed.append(volume)
        return removed


# --- report ----------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def goals(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    after_start = results["ready"]["cached_calc"]["after_start"]["median"]
    overhead = results["exec"]["overhead_true"]
    ratio = max(results["tests"][name]["ratio"] for name in SUITES)
    share = results["setup"]["cached_over_first_setup"]
    return {
        "first_exec_after_start_p50": {
            "value": after_start,
            "goal": f"< {GOAL_FIRST_EXEC_AFTER_START} s",
            "met": after_start < GOAL_FIRST_EXEC_AFTER_START,
        },
        "exec_overhead_p50": {
            "value": overhead,
            "goal": f"< {GOAL_EXEC_OVERHEAD} s",
            "met": overhead < GOAL_EXEC_OVERHEAD,
        },
        "test_wall_time_ratio": {
            "value": ratio,
            "goal": f"<= {GOAL_TEST_RATIO}x (worst suite)",
            "met": ratio <= GOAL_TEST_RATIO,
        },
        "cached_setup_share": {
            "value": share,
            "goal": f"<= {GOAL_CACHED_SETUP_SHARE:.0%} of first",
            "met": share <= GOAL_CACHED_SETUP_SHARE,
        },
    }


def print_table(results: dict[str, Any]) -> None:
    ready = results["ready"]
    print("\n== 1. container ready (median / p90) ==")
    rows = [
        ("cold (new key, pip install)", "cold_with_deps", "ready"),
        ("from cache: with_deps", "cached_with_deps", "ready"),
        ("from cache: calc", "cached_calc", "ready"),
        ("  prepare (client, image, chown, cache check)", "cached_calc", "prepare"),
        ("  create", "cached_calc", "create"),
        ("  attach", "cached_calc", "attach"),
        ("  start", "cached_calc", "start"),
        ("  start returned -> exec server greeting", "cached_calc", "greeting"),
        ("  greeting -> first exec answered", "cached_calc", "first_exec"),
        ("first exec answered after start request", "cached_calc", "after_start"),
        ("first exec answered after start returned", "cached_calc", "after_started"),
        ("first exec answered after create request", "cached_calc", "after_create"),
        ("teardown (remove container)", "cached_calc", "teardown"),
        ("engine floor: bare container, create", "engine_floor", "create"),
        ("engine floor: start", "engine_floor", "start"),
        ("engine floor: start returned -> first byte (sh)", "engine_floor", "first_byte"),
        ("engine floor: start request -> first byte", "engine_floor", "after_start"),
    ]
    for label, group, name in rows:
        s = ready[group][name]
        print(f"{label:48} {ms(s['median'])} {ms(s['p90'])}   n={s['n']}")
    ex = results["exec"]
    print("\n== 2. per-exec round trip (median / p90) ==")
    for name, s in ex["samples"].items():
        print(f"{name:48} {ms(s['median'])} {ms(s['p90'])}   n={s['n']}")
    print(f"{'overhead true (sandbox - native)':48} {ms(ex['overhead_true'])}")
    print(f"{'overhead echo hi (sandbox - native)':48} {ms(ex['overhead_echo'])}")
    print(f"{'ending 10 left processes (overhead, vs true)':48} {ms(ex['ending_10_processes'])}")
    ratio = ex["docker_exec_over_sandbox_exec"]
    print(f"{'docker exec / exec server':48} {ratio:8.1f} x")
    print("\n== 3. test-suite wall time (median / p90) ==")
    for name, suite in results["tests"].items():
        label = f"{name} ({suite['tests']} tests)" if name in SUITES else f"{name} (no pytest)"
        for where in ("sandbox", "native"):
            s = suite[where]
            print(f"{label + ' ' + where:48} {ms(s['median'])} {ms(s['p90'])}   n={s['n']}")
        print(f"{label + ' sandbox / native':48} {suite['ratio']:8.2f} x")
        if "sandbox_fresh" in suite:
            s = suite["sandbox_fresh"]
            row = f"{label} first run, new container"
            print(f"{row:48} {ms(s['median'])} {ms(s['p90'])}   n={s['n']}")
            print(f"{label + ' first run / native':48} {suite['ratio_fresh']:8.2f} x")
    setup = results["setup"]
    print("\n== 4. set-up: first vs cached (with_deps) ==")
    print(f"{'set-up first (median)':48} {ms(setup['first_setup_median'])}")
    print(f"{'set-up cached (median)':48} {ms(setup['cached_setup_median'])}")
    print(f"{'cached / first set-up':48} {setup['cached_over_first_setup']:8.1%}")
    print(f"{'ready cached / ready first':48} {setup['cached_over_first_ready']:8.1%}")
    print("\n== 5. disk limit: attach and detach (median / p90) ==")
    if results["disk"] is None:
        print("not measured: mounting needs root, and sandboxes here run without a disk limit")
    else:
        for name, phases in results["disk"].items():
            label = "calc" if name == "calc" else f"{DISK_TREE_FILES} files of 16 KiB"
            for phase, s in phases.items():
                print(f"{label + ' ' + phase:48} {ms(s['median'])} {ms(s['p90'])}   n={s['n']}")
    print("\n== goals (issue 2) ==")
    for name, goal in results["goals"].items():
        value = goal["value"]
        shown = f"{value:.3f} s" if "_p50" in name else f"{value:.3f}"
        verdict = "met" if goal["met"] else "MISSED"
        print(f"{name:32} {shown:>12}  goal {goal['goal']:26} {verdict}")


async def run(plan: Plan, quick: bool) -> dict[str, Any]:
    started = time.monotonic()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="patchbot-bench-") as scratch:
        bench = Bench(plan, Path(scratch))
        try:
            steps = (
                bench.ready_and_setup,
                bench.exec_overhead,
                bench.test_wall_time,
                bench.disk_limit,
            )
            for step in steps:
                print(f"[{time.monotonic() - started:6.1f} s] {step.__doc__}", flush=True)
                await step()
        finally:
            removed = bench.remove_volumes()
    results = bench.results
    results["goals"] = goals(results)
    results["meta"] = {
        "quick": quick,
        "plan": plan.__dict__,
        "wall_seconds": time.monotonic() - started,
        "removed_volumes": removed,
        "load_average_before": load_before,
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer samples, about a minute")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results = asyncio.run(run(QUICK if args.quick else FULL, args.quick))
    version = subprocess.run(
        [sys.executable, "-m", "pytest", "--version"], capture_output=True, text=True
    )
    results["meta"] |= {
        "load_average_after": os.getloadavg(),
        "host_cpus": os.cpu_count(),
        "host_python": f"{sys.executable} {platform.python_version()}",
        "host_pytest": version.stdout.strip(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print_table(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(ROOT)} in {results['meta']['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
