"""Benchmark (issue 5): webhook sent → pull request opened, on the demo repository.

Each repetition starts a fresh `LocalStack` (GitHub simulator, scripted model, webhook server,
one worker running the real pull-request pipeline), seeds `octo/stats` from
`tests/examples/buggy_stats` with its issue, labels the issue through a real signed webhook
and waits for the run. The phases come from the run's trace timestamps; the simulator's
request log and a timing wrapper around the Docker sandbox split them further. All
repetitions run in this one process, so the first pays the cold costs (importing litellm,
litellm's first call); the set-up cache is never cleared. The bare floor is `git clone` of the
same repository from the simulator plus the test suite run natively on the host. Finally the
`patchbot demo` command is timed once, as a user runs it. Prints a table of medians, writes
bench/results/e2e.json.

    python bench/e2e.py [--runs 5] [--no-demo]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.agent.scripted import load_trajectory  # noqa: E402
from bot.testing.stack import MAINTAINER, LocalStack  # noqa: E402
from bot.trace import read_trace  # noqa: E402

REPOSITORY = "octo/stats"
EXAMPLE = ROOT / "tests" / "examples" / "buggy_stats"
TRAJECTORY = ROOT / "bot" / "agent" / "trajectories" / "fix_median.jsonl"
GOAL_TOTAL = 20.0
"""Seconds: demo end to end, once images are built (issue 5)."""
GOAL_OVERHEAD = 5.0
"""Seconds: everything but the tests' and the model's own time (issue 5)."""

# Top-level phases: (name, trace mark it starts at, trace mark it ends at).
PHASES = [
    ("intake", "sent", "claimed"),
    ("clone", "claimed", "cloned"),
    ("sandbox+baseline", "solve_start", "baseline"),
    ("agent", "baseline", "agent_stop"),
    ("verify", "agent_stop", "solved"),
    ("push", "solved", "pushed"),
    ("PR", "pushed", "pull_request"),
]


@dataclass
class SandboxUse:
    """One sandbox a run opened: when it was asked for, ready, closing, gone; its test runs."""

    workspace: str
    opened: float
    ready: float = 0.0
    closing: float = 0.0
    closed: float = 0.0
    setup_cached: bool = True
    setup_seconds: float = 0.0
    tests: list[tuple[float, float]] = field(default_factory=list)

    @property
    def role(self) -> str:
        name = Path(self.workspace).name
        return "verify" if "candidate" in name else "agent"

    @property
    def test_seconds(self) -> float:
        return sum(end - start for start, end in self.tests)

    def split_baseline(self) -> tuple[SandboxUse, SandboxUse]:
        """The agent's sandbox as the baseline's (its first test run) and the agent's (the
        rest): the baseline runs in it before the agent's first command."""
        first, *rest = self.tests
        return replace(self, tests=[first]), replace(self, tests=rest)


class SandboxProbe:
    """Times every sandbox a run opens: the trace has no "sandbox ready" event and does not
    carry the candidate's test time, so this wrapper around the real
    `bot.sandbox.docker.open_sandbox` (which the solver imports when a run starts) records
    open, each `run_tests`, and close. It changes nothing the sandbox does."""

    def __init__(self) -> None:
        self.uses: list[SandboxUse] = []

    @contextlib.contextmanager
    def installed(self) -> Any:
        import bot.sandbox.docker as docker_module

        real = docker_module.open_sandbox

        @contextlib.asynccontextmanager
        async def timed(workspace: Path, config: Any, **options: Any) -> AsyncIterator[Any]:
            use = SandboxUse(str(workspace), time.time())
            self.uses.append(use)
            async with real(workspace, config, **options) as sandbox:
                use.ready = time.time()
                use.setup_cached, use.setup_seconds = sandbox.setup.cached, sandbox.setup.duration
                run_tests = sandbox.run_tests

                async def timed_tests(*args: Any, **kwargs: Any) -> Any:
                    started = time.time()
                    try:
                        return await run_tests(*args, **kwargs)
                    finally:
                        use.tests.append((started, time.time()))

                sandbox.run_tests = timed_tests  # type: ignore[method-assign]
                try:
                    yield sandbox
                finally:
                    use.closing = time.time()
            use.closed = time.time()

        docker_module.open_sandbox = timed
        try:
            yield self
        finally:
            docker_module.open_sandbox = real

    def role(self, role: str) -> SandboxUse:
        """The sandbox of `role`; verification opens its checkouts' sandboxes side by side, so
        for several, their wall-clock span: asked for at the first, ready at the last, tests
        from the first start to the last end, closing and closed at the last."""
        found = [use for use in self.uses if use.role == role]
        if not found or (role != "verify" and len(found) != 1):
            raise RuntimeError(f"expected one {role} sandbox, the run opened {len(found)}")
        if len(found) == 1:
            return found[0]
        tests = [span for use in found for span in use.tests]
        return SandboxUse(
            found[0].workspace,
            min(use.opened for use in found),
            ready=max(use.ready for use in found),
            closing=max(use.closing for use in found),
            closed=max(use.closed for use in found),
            tests=[(min(s for s, _ in tests), max(e for _, e in tests))] if tests else [],
        )


async def _command(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    """Seconds `args` took; raises when it fails."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output, _ = await process.communicate()
    took = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{output.decode(errors='replace')}")
    return took


async def bare_floor(stack: LocalStack, root: Path) -> dict[str, float]:
    """`git clone` from the simulator (the token in a header, as the pipeline passes it), then
    the suite natively on the host."""
    dest = root / "floor"
    installation = next(iter(stack.github.state.installations))
    token = stack.github.mint_token(installation).token
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    git_env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
    }
    url = stack.github.git_url(REPOSITORY)
    clone = await _command(["git", "clone", "--quiet", url, str(dest)], root, git_env)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    plain = await _command(pytest, dest, env)
    # The sandbox has no pytest plugins; the host's (aiohttp, asyncio, anyio) cost about 1 s.
    tests = await _command(pytest, dest, {**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    return {
        "git_clone": clone,
        "tests": tests,
        "tests_with_host_plugins": plain,
        "total": clone + tests,
    }


def _marks(events: list[dict[str, Any]], sent: float) -> dict[str, float]:
    def ts(kind: str, step: str | None = None) -> float:
        found = [e["ts"] for e in events if e["kind"] == kind and step in (None, e.get("step"))]
        if len(found) != 1:
            raise RuntimeError(
                f"expected one {kind} {step or ''} event, the trace has {len(found)}"
            )
        return float(found[0])

    return {
        "sent": sent,
        "claimed": ts("claimed"),
        "cloned": ts("pipeline", "cloned"),
        "solve_start": ts("solve_start"),
        "baseline": ts("baseline"),
        "agent_stop": ts("agent_stop"),
        "verification": ts("verification"),
        "solve_stop": ts("solve_stop"),
        "solved": ts("pipeline", "solved"),
        "pushed": ts("pipeline", "pushed"),
        "pull_request": ts("pull_request"),
        "finished": ts("finished"),
    }


def analyse(events: list[dict[str, Any]], sent: float, answered: float, created: float,
            requests: list[Any], probe: SandboxProbe) -> dict[str, Any]:  # fmt: skip
    """Phases (adding up to the total), their parts, and the overhead beyond tests and model."""
    mark = _marks(events, sent)
    stop = next(e for e in events if e["kind"] == "agent_stop")
    first_call = {e["kind"]: e["ts"] for e in reversed(events) if e.get("step") == 1}
    tool_tests = sum(
        e["duration"] for e in events if e["kind"] == "tool_result" and e["name"] == "run_tests"
    )

    def request_at(method: str, path_part: str, after: float) -> float:
        return next(
            float(r.at)
            for r in requests
            if r.method == method and path_part in r.path and r.at >= after
        )

    base, agent = probe.role("agent").split_baseline()
    verify = probe.role("verify")
    git_clone_start = request_at("GET", ".git/info/refs", mark["claimed"])
    pull_opened = request_at("POST", "/pulls", mark["pushed"])
    check_run = request_at("POST", "/check-runs", mark["pushed"])
    parts: dict[str, dict[str, float]] = {
        "intake": {
            "webhook answered (2xx)": answered - sent,
            "run queued → claimed (worker poll)": mark["claimed"] - created,
        },
        "clone": {
            "token, status comment, issue, repository": git_clone_start - mark["claimed"],
            "git clone": mark["cloned"] - git_clone_start,
        },
        "sandbox+baseline": {
            "copy + sandbox start": base.ready - mark["solve_start"],
            "tests": base.test_seconds,
            "waiting for the litellm import": max(0.0, mark["baseline"] - base.tests[0][1]),
        },
        "agent": {
            "model calls (litellm + scripted model)": stop["model_seconds"],
            "tool calls (non-test)": stop["tool_seconds"] - agent.test_seconds,
            "tool calls: run_tests": agent.test_seconds,
        },
        "verify": {
            "patch applied, sandbox ready (started ahead)": verify.ready - mark["agent_stop"],
            "tests": verify.test_seconds,
            "sandbox removal": verify.closed - verify.closing,
            "agent's sandbox removal": agent.closed - agent.closing,
            "temporary checkouts removed": mark["solve_stop"] - agent.closed,
            "status comment flushed": mark["solved"] - mark["solve_stop"],
        },
        "push": {
            "commit + git push": mark["pushed"]
            - request_at("GET", ".git/info/refs", mark["solved"])
        },
        "PR": {
            "open pull request": pull_opened - mark["pushed"],
            "check run": check_run - pull_opened,
            "label + status comment": mark["pull_request"] - check_run,
        },
    }
    total = mark["pull_request"] - sent
    phases = {name: mark[end] - mark[start] for name, start, end in PHASES}
    phases["other"] = total - sum(phases.values())
    for name, rows in parts.items():
        rows["rest"] = phases[name] - sum(rows.values())
    tests = base.test_seconds + agent.test_seconds + verify.test_seconds
    return {
        "total": total,
        "pr_opened": pull_opened - sent,
        "run_finished": mark["finished"] - sent,
        "phases": phases,
        "parts": parts,
        "tests": tests,
        "model": stop["model_seconds"],
        "first_model_call": first_call["model_response"] - first_call["model_request"],
        "overhead": total - tests - stop["model_seconds"],
        "run_tests_tool_seconds": tool_tests,
        "setup": [
            {"role": u.role, "cached": u.setup_cached, "seconds": u.setup_seconds}
            for u in probe.uses
        ],
    }


async def one_run(index: int, workdir: Path, trajectory: list[dict[str, Any]]) -> dict[str, Any]:
    root = workdir / f"run-{index}"
    title, _, body = (EXAMPLE / "ISSUE.md").read_text().partition("\n")
    probe = SandboxProbe()
    started = time.perf_counter()
    async with LocalStack(root, trajectory) as stack:
        up = time.perf_counter() - started
        number = await stack.seed(REPOSITORY, EXAMPLE, title.strip(), body.strip())
        with probe.installed():
            sent = time.time()
            await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
            answered = time.time()
            run = await stack.finished_run(REPOSITORY, number)
        if run.state.value != "succeeded" or run.id is None:
            raise RuntimeError(f"run {run.id} ended {run.state.value}: {run.summary}")
        events = list(read_trace(stack.settings.data_dir / "runs" / f"{run.id}.jsonl"))
        result = analyse(events, sent, answered, run.created_at, stack.github.requests, probe)
        result["floor"] = await bare_floor(stack, root)
    result["stack_start"] = up
    result["whole_repetition"] = time.perf_counter() - started
    return result


def time_demo() -> dict[str, Any]:
    """`python -m bot demo` once, as a user runs it (its own process: litellm imported cold)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot", "demo"], cwd=ROOT, capture_output=True,
                          text=True, check=False)  # fmt: skip
    took = time.perf_counter() - started
    said = next((line for line in done.stdout.splitlines() if line.startswith("run #")), "")
    run = re.search(r" in ([0-9.]+) s:", said)
    return {"seconds": took, "exit_code": done.returncode, "says": said,
            "run_seconds": float(run.group(1)) if run else None}  # fmt: skip


def time_litellm_import() -> float:
    """Seconds a fresh interpreter takes to import litellm: what a cold worker's run waits for."""
    code = "import os; os.environ['LITELLM_LOCAL_MODEL_COST_MAP'] = 'True'; import litellm"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def _median(runs: list[dict[str, Any]], *path: str) -> float:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value[key]
        values.append(float(value))
    return statistics.median(values)


def print_table(runs: list[dict[str, Any]]) -> dict[str, Any]:
    first, later = runs[0], runs[1:] or runs
    total = _median(later, "total")
    rows: list[tuple[str, tuple[str, ...]]] = [
        ("webhook sent → PR done (check run, comment)", ("total",))
    ]
    for name in [*(phase for phase, _, _ in PHASES), "other"]:
        rows.append((name, ("phases", name)))
        for part in first["parts"].get(name, {}):
            rows.append((f"    {part}", ("parts", name, part)))
    rows += [
        ("webhook sent → POST /pulls answered", ("pr_opened",)),
        ("time inside test runs", ("tests",)),
        ("time inside model calls", ("model",)),
        ("  of which the first call", ("first_model_call",)),
        ("everything but tests and model", ("overhead",)),
        ("bare floor: git clone", ("floor", "git_clone")),
        ("bare floor: pytest on the host", ("floor", "tests")),
        ("bare floor: total", ("floor", "total")),
        ("LocalStack start (not in the total)", ("stack_start",)),
    ]
    print(
        f"{'seconds (median of runs 2..N; run 1 apart)':52} {'run 1':>7} {'median':>7} {'share':>6}"
    )
    table = {}
    for label, path in rows:
        value = _median(later, *path)
        share = f"{100 * value / total:5.1f}%" if path[0] in ("phases", "parts") else ""
        print(f"{label:52} {_median([first], *path):7.2f} {value:7.2f} {share:>6}")
        table[label.strip()] = {"run_1": _median([first], *path), "median": value}
    ratio = total / _median(later, "floor", "total")
    first_ratio = first["total"] / first["floor"]["total"]
    print(f"{'ratio to the bare floor':52} {first_ratio:7.1f} {ratio:7.1f}x")
    return {"rows": table, "ratio_to_floor": ratio}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument("--no-demo", action="store_true", help="skip timing `patchbot demo`")
    args = parser.parse_args()
    trajectory = load_trajectory(TRAJECTORY)
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="patchbot-bench-e2e-"))
    runs = []
    try:
        for index in range(1, args.runs + 1):
            runs.append(asyncio.run(one_run(index, workdir, trajectory)))
            print(f"run {index}: {runs[-1]['total']:.2f} s webhook → PR", file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary = print_table(runs)
    demo = None if args.no_demo else time_demo()
    later = runs[1:] or runs
    litellm_import = time_litellm_import()
    goals = {
        "demo_command_under_20s": None if demo is None else demo["seconds"] < GOAL_TOTAL,
        "webhook_to_pr_under_20s_run_1": runs[0]["total"] < GOAL_TOTAL,
        "webhook_to_pr_under_20s": _median(later, "total") < GOAL_TOTAL,
        "overhead_under_5s_run_1": runs[0]["overhead"] < GOAL_OVERHEAD,
        "overhead_under_5s": _median(later, "overhead") < GOAL_OVERHEAD,
    }
    print(f"\n`import litellm` in a fresh interpreter: {litellm_import:.2f} s")
    if demo is not None:
        print(f"`python -m bot demo` whole command: {demo['seconds']:.2f} s ({demo['says']})")
    print(f"goals: {json.dumps(goals)}")
    results = {**summary, "goals": goals, "demo_command": demo, "runs": runs,
               "litellm_import": litellm_import,
               "load_average": {"before": load_before, "after": os.getloadavg()}}  # fmt: skip
    out = ROOT / "bench" / "results" / "e2e.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
