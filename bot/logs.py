"""Patchbot's log lines: readable text or one JSON object a line, each saying which delivery,
run, repository and issue it is about, with secrets redacted and tracebacks only at DEBUG."""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import json
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, TextIO

from bot.trace import Redactor

CONTEXT_FIELDS = ("delivery_id", "run_id", "repo", "issue", "trace_id")
"""What a line is about, when known: given with `extra=` or set by `log_context`; `trace_id`
is the run attempt's OpenTelemetry trace (when OTLP is configured)."""

QUIET_LOGGERS = ("httpx", "httpcore", "LiteLLM", "LiteLLM Router", "docker", "urllib3")
"""Libraries that log every request at INFO: their lines are kept for DEBUG."""

_context: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar(
    "patchbot_log_context", default=MappingProxyType({})
)


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Lines logged inside the block, and in tasks started from it, carry these fields (those
    that are not None)."""
    known = {name: value for name, value in fields.items() if value is not None}
    token = _context.set(MappingProxyType({**_context.get(), **known}))
    try:
        yield
    finally:
        _context.reset(token)


def configure_logging(
    level: str, log_format: str, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> None:
    """Send every log line to `stream` (stderr) as `log_format` (`text` or `json`), from
    `level` up, with the `secrets` and credential-shaped strings redacted."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        LineFormatter(Redactor(secrets), as_json=log_format == "json", tracebacks=level == "DEBUG")
    )
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)


class LineFormatter(logging.Formatter):
    """One line per record: `TIME LEVEL LOGGER [FIELDS]: MESSAGE`, or a JSON object with
    `time`, `level`, `logger`, `message`, the context fields and `error`."""

    def __init__(self, redact: Redactor, *, as_json: bool, tracebacks: bool) -> None:
        super().__init__()
        self.redact = redact
        self.as_json = as_json
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = dict(_context.get())
        fields.update(
            (name, getattr(record, name))
            for name in CONTEXT_FIELDS
            if getattr(record, name, None) is not None
        )
        when = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        line: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **{name: fields[name] for name in CONTEXT_FIELDS if name in fields},
        }
        error = self._error(record)
        if error:
            line["error"] = error
        line = self.redact.scrub(line)
        if self.as_json:
            return json.dumps(line, default=str)
        about = " ".join(f"{name}={line[name]}" for name in CONTEXT_FIELDS if name in line)
        text = f"{line['time']} {line['level']} {line['logger']}"
        text += f" [{about}]: {line['message']}" if about else f": {line['message']}"
        if error:
            text += f"\n{line['error']}" if self.tracebacks else f" ({line['error']})"
        return text

    def _error(self, record: logging.LogRecord) -> str:
        """The exception of the record: its traceback at DEBUG, else `Type: message`."""
        if not record.exc_info or record.exc_info[1] is None:
            return ""
        if self.tracebacks:
            return self.formatException(record.exc_info)
        error = record.exc_info[1]
        reason = str(error).strip().splitlines()
        return f"{type(error).__name__}: {reason[0]}" if reason else type(error).__name__
