"""Benchmark: the agent harness's own cost per step, the fixed prompt's size, and CLI start-up.

Runs the real loop (litellm over HTTP to the scripted model, tools in a real Docker sandbox) and
splits each step's wall time into the tool's own work (the command's run time inside the
sandbox) and everything else: the harness overhead. Prints a table, writes
bench/results/agent.json.

    python bench/agent.py [--steps 60]
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.agent.limits import AgentLimits  # noqa: E402
from bot.agent.loop import Agent  # noqa: E402
from bot.agent.model import LitellmModel, ModelConfig, import_litellm  # noqa: E402
from bot.agent.prompts import SYSTEM_PROMPT, task_message  # noqa: E402
from bot.agent.scripted import ScriptedModel, ScriptedServer  # noqa: E402
from bot.agent.stops import Submitted  # noqa: E402
from bot.agent.tools import TOOL_SCHEMAS, ToolBox  # noqa: E402
from bot.sandbox.config import SandboxConfig  # noqa: E402
from bot.sandbox.models import ExecResult, TestReport  # noqa: E402
from bot.sandbox.protocol import OutputSink, Sandbox  # noqa: E402
from bot.setup.paths import WORKSPACE  # noqa: E402
from bot.trace import Trace  # noqa: E402

CYCLE: list[tuple[str, dict[str, Any]]] = [
    ("bash", {"command": "echo hello"}),
    ("str_replace_editor", {"command": "view", "path": "/workspace/stats/__init__.py"}),
    ("str_replace_editor", {"command": "insert", "path": "stats/__init__.py", "insert_line": 0,
                            "new_str": "# benchmark"}),
    ("str_replace_editor", {"command": "undo_edit", "path": "stats/__init__.py"}),
    ("bash", {"command": "ls -la stats"}),
]  # fmt: skip


class TimedSandbox(Sandbox):
    """Passes calls through and sums the time commands ran inside the sandbox."""

    def __init__(self, inner: Sandbox) -> None:
        self.inner = inner
        self.work = 0.0

    async def exec(
        self,
        command: str,
        *,
        timeout: float | None = None,
        workdir: str = WORKSPACE,
        on_output: OutputSink | None = None,
    ) -> ExecResult:
        result = await self.inner.exec(
            command, timeout=timeout, workdir=workdir, on_output=on_output
        )
        self.work += result.duration
        return result

    async def run_tests(
        self, paths: Sequence[str] = (), *, timeout: float | None = None, reruns: int = 0
    ) -> TestReport:
        report = await self.inner.run_tests(paths, timeout=timeout, reruns=reruns)
        self.work += report.duration
        return report


def script(steps: int) -> list[dict[str, Any]]:
    messages = []
    for n in range(steps):
        name, arguments = CYCLE[n % len(CYCLE)]
        call = {"type": "function", "function": {"name": name, "arguments": arguments}}
        messages.append({"role": "assistant", "content": f"step {n}", "tool_calls": [call]})
    finish = {"type": "function", "function": {"name": "finish", "arguments": {"summary": "-"}}}
    messages.append({"role": "assistant", "content": None, "tool_calls": [finish]})
    return messages


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure_steps(steps: int, warmup: int = 3) -> dict[str, Any]:
    from bot.sandbox.docker import open_sandbox

    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="patchbot-bench-") as tmp:
        workspace = Path(tmp) / "repo"
        shutil.copytree(ROOT / "tests" / "examples" / "buggy_stats", workspace)
        async with (
            ScriptedServer(ScriptedModel(script(steps + warmup))) as server,
            open_sandbox(workspace, SandboxConfig()) as inner,
        ):
            sandbox = TimedSandbox(inner)
            model = LitellmModel(ModelConfig(model="openai/scripted", api_base=server.api_base))
            with Trace(Path(tmp) / "trace.jsonl") as trace:
                agent = Agent(model, ToolBox(sandbox), AgentLimits(max_steps=10_000), trace)
                agent.start(SYSTEM_PROMPT, task_message("Benchmark", "No issue."))
                for n in range(steps + warmup + 1):
                    before_model = agent.stats.model_seconds
                    before_tools = agent.stats.tool_seconds
                    sandbox.work = 0.0
                    started = time.perf_counter()
                    try:
                        await agent.step()
                    except Submitted:
                        break
                    wall = time.perf_counter() - started
                    if n < warmup:
                        continue
                    model_call = agent.stats.model_seconds - before_model
                    tool_wall = agent.stats.tool_seconds - before_tools
                    rows.append(
                        {
                            "step_wall": wall,
                            "tool_work": sandbox.work,
                            "overhead": wall - sandbox.work,
                            "model_call": model_call,
                            "tool_dispatch": tool_wall - sandbox.work,
                            "loop_bookkeeping": wall - model_call - tool_wall,
                        }
                    )
    keys = rows[0].keys()
    return {
        "steps": len(rows),
        "p50_ms": {key: 1000 * statistics.median(row[key] for row in rows) for key in keys},
        "p90_ms": {key: 1000 * pct([row[key] for row in rows], 0.9) for key in keys},
    }


def prompt_tokens() -> dict[str, int]:
    litellm = import_litellm()
    system = [{"role": "system", "content": SYSTEM_PROMPT}]
    both = litellm.token_counter(model="gpt-4o", messages=system, tools=TOOL_SCHEMAS)
    alone = litellm.token_counter(model="gpt-4o", messages=system)
    return {"system_prompt": alone, "tool_schemas": both - alone, "fixed_total": both}


def cli_startup(runs: int = 5) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for label, args in {
        "patchbot --help": ["--help"],
        "patchbot solve --help": ["solve", "--help"],
        "patchbot sandbox --help": ["sandbox", "--help"],
    }.items():
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, capture_output=True)
            times.append(time.perf_counter() - started)
        traced = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "bot", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        lines = traced.stderr.splitlines()
        modules = {line.split("|")[-1].strip() for line in lines if "|" in line}
        results[label] = {
            "median_s": statistics.median(times),
            "imports_litellm": any(m.split(".")[0] == "litellm" for m in modules),
            "imports_docker": any(m.split(".")[0] == "docker" for m in modules),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    steps = asyncio.run(measure_steps(args.steps))
    tokens = prompt_tokens()
    startup = cli_startup()
    results = {"agent_steps": steps, "fixed_prompt_tokens": tokens, "cli_startup": startup}

    print(f"agent steps (n={steps['steps']}, ms)  {'p50':>8} {'p90':>8}")
    for key in steps["p50_ms"]:
        print(f"  {key:<28} {steps['p50_ms'][key]:8.1f} {steps['p90_ms'][key]:8.1f}")
    overhead = steps["p50_ms"]["overhead"]
    print(f"harness overhead p50: {overhead:.1f} ms (goal < 50 ms)")
    print(
        f"fixed prompt: {tokens['fixed_total']} tokens (system {tokens['system_prompt']}, "
        f"tools {tokens['tool_schemas']}; goal < 2000)"
    )
    for label, row in startup.items():
        print(f"{label:<26} {row['median_s']:.2f} s  litellm imported: {row['imports_litellm']}"
              f"  docker imported: {row['imports_docker']}")  # fmt: skip
    out = ROOT / "bench" / "results" / "agent.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
