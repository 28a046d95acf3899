"""A run's trace: one JSON line per event (prompt, tool call, result, action), secrets redacted.

Every event is flushed as it happens, so a killed run keeps everything up to its last step.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

# Credentials that must never reach a trace, a log line or a comment, by shape.
_SECRET_SHAPES = re.compile(
    r"gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens (installation tokens are ghs_)
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|sk-[A-Za-z0-9_\-]{20,}"  # OpenAI-style model keys
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"
)
REDACTED = "[REDACTED]"


class Redactor:
    """Replaces known secret values and credential-shaped strings with `[REDACTED]`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Redact this exact value from now on (too-short values would redact noise)."""
        if len(secret) >= 8:
            self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return _SECRET_SHAPES.sub(REDACTED, text)

    def scrub(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {key: self.scrub(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(item) for item in value]
        return value


Observer = Callable[[dict[str, Any]], None]
"""Hears each event as written (redacted), e.g. to time a run's steps."""


class Trace:
    """Appends events to a JSON-lines file; each line has `ts`, `kind` and the event's data."""

    def __init__(
        self, path: Path, redactor: Redactor | None = None, observer: Observer | None = None
    ) -> None:
        self.path = path
        self.redact = redactor or Redactor()
        self.observer = observer
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = path.open("a", encoding="utf-8")

    def event(self, kind: str, **data: Any) -> None:
        record = {"ts": round(time.time(), 3), "kind": kind, **self.redact.scrub(data)}
        self._file.write(json.dumps(record, default=str) + "\n")
        self._file.flush()
        if self.observer is not None:
            self.observer(record)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Trace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_current: contextvars.ContextVar[Trace | None] = contextvars.ContextVar(
    "patchbot_trace", default=None
)


@contextlib.contextmanager
def tracing(trace: Trace) -> Iterator[Trace]:
    """Code inside the block, and tasks started from it, add to `trace` what they do below
    the run's own steps (its GitHub calls): see `current_trace`."""
    token = _current.set(trace)
    try:
        yield trace
    finally:
        _current.reset(token)


def current_trace() -> Trace | None:
    """The trace of the run this code works for, if any."""
    return _current.get()


def read_trace(path: Path) -> Iterator[dict[str, Any]]:
    """The events of a trace file, skipping a last line cut short by a killed process."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue
