"""The seam between the worker and the work: a Pipeline turns a claimed Run into an outcome.

The worker owns claiming, the lease, the heartbeat, cancellation and the trace file; a
pipeline only does the steps (clone, sandbox, agent, verify, pull request) and writes them
to `context.trace`. It may be cancelled at any await (the run was stopped, or its lease was
lost): clean up in `finally:` blocks.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.errors import ConfigError
from bot.runs.models import Run, RunOutcome
from bot.runs.store import RunStore
from bot.settings import Settings
from bot.trace import Trace


@dataclass
class RunContext:
    """What a pipeline gets besides the run."""

    trace: Trace
    """The run's trace; every step appends to it."""
    store: RunStore
    settings: Settings
    worker: str
    """Name of the worker holding the lease."""


class Pipeline(Protocol):
    async def __call__(self, run: Run, context: RunContext) -> RunOutcome: ...


DEFAULT_PIPELINE = "bot.eval.scheduled:ServerPipeline"
"""The run-to-pull-request pipeline, and scheduled evaluations (trigger `eval`); tests pick
others from `bot.testing.pipelines`."""


def load_pipeline(spec: str) -> Pipeline:
    """`module:name` of a Pipeline class (made with no arguments) or instance."""
    module_name, _, attribute = spec.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        raise ConfigError(
            f"--pipeline {spec}: cannot load it ({error}); give module:ClassName"
        ) from error
    pipeline: Pipeline = found() if isinstance(found, type) else found
    return pipeline


def trace_path(data_dir: Path, run_id: int) -> Path:
    """Where a run's trace lives: one JSON-lines file per run."""
    return data_dir / "runs" / f"{run_id}.jsonl"


def work_dir(data_dir: Path) -> Path:
    """This process's folder for run checkouts, `DATA_DIR/work/<host>:<pid>`: after a crash,
    the next worker's sweep (or `patchbot sandbox gc`) finds it by its dead owner and removes
    it."""
    from bot.sandbox.owners import owned_folder

    return owned_folder((data_dir / "work").resolve())
