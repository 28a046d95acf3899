"""What one worker attempt at a run reports: its events (heard as the trace is written), the
run's and steps' durations as metrics at its end, and spans when OTLP is configured."""

from __future__ import annotations

import time
from typing import Any

from bot.telemetry.metrics import process_metrics
from bot.telemetry.timeline import RunEvents, timeline


class RunObservation:
    """Give it to the run's `Trace` as its observer; call `end` once the attempt is over."""

    def __init__(self, otlp_endpoint: str | None, attributes: dict[str, Any]) -> None:
        self.started = time.time()
        self.events = RunEvents()
        self.spans = None
        if otlp_endpoint:
            from bot.telemetry.spans import RunSpans

            self.spans = RunSpans(otlp_endpoint, self.started, attributes)

    def __call__(self, record: dict[str, Any]) -> None:
        self.events(record)

    @property
    def trace_id(self) -> str | None:
        """The OpenTelemetry trace id of the attempt, for the logs; None without OTLP."""
        return self.spans.trace_id if self.spans else None

    def end(self, state: str) -> None:
        """Record the attempt, which left the run in `state` (`running`: the worker lost its
        lease; `error`: the worker itself failed)."""
        ended = time.time()
        steps = timeline(self.events.events, self.started, ended)
        process_metrics().run_ended(
            state, ended - self.started, [(step.name, step.end - step.start) for step in steps]
        )
        if self.spans is not None:
            self.spans.end(steps, state, ended)
