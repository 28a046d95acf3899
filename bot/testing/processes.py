"""Patchbot as real processes, for tests: `python -m bot ...` in the background or to its end."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def stopped_at_exit(
    process: subprocess.Popen[Any], grace: float = 10.0
) -> Iterator[subprocess.Popen[Any]]:
    """Yield `process`; at the end, SIGTERM it (SIGKILL after `grace` s) unless it is dead."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def run_patchbot(
    *args: str, env: dict[str, str], timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` to its end, without blocking the event loop."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
