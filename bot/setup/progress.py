"""Who hears what a first set-up is doing: the try, its elapsed time, the installer's lines."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

SetupProgress = Callable[[str], None]
SETUP_PROGRESS: ContextVar[SetupProgress | None] = ContextVar("setup_progress", default=None)
"""The listener when `open_sandbox` is not given one: the solver sets it around its
baseline, whose sandbox opener takes no such argument."""
