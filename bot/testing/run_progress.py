"""A run's progress as plain lines for a terminal, read from its trace as the worker writes it:
every agent step once and in order, the baseline, the verdicts, the push and the pull request."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.agent.loop import progress_line, step_line


def progress_text(event: dict[str, Any]) -> str:
    """The plain line a trace event adds to the story, or '' for one that adds nothing (a
    model request, a tool's output, a step the next event says better)."""
    kind = event.get("kind")
    if kind == "tool_call":
        return step_line(event["step"], event["name"], event["arguments"], event.get("call", 1))
    if kind == "claimed":
        return f"a worker took the run (attempt {event['attempt']})"
    if kind == "pipeline" and event["step"] != "solved":  # the verification says it first
        detail = str(event.get("detail", "")).replace("`", "")
        return f"{event['step']} {detail}".strip()
    if kind == "solve_start":
        return f"baseline: running the tests on {str(event['base'])[:12]}"
    if kind == "baseline":
        return f"baseline: {event['summary']}"
    if kind == "verification":
        which = f" of attempt {event['attempt']}" if event["attempt"] else ""
        return f"verification{which}: {event['reason']}"
    if kind == "feedback":
        return f"feedback to address: {len(event['items'])} item(s)"
    if kind == "pull_request":
        return f"pull request: {event['url']}"
    if kind in ("escalated", "awaiting_approval"):
        return f"{kind.replace('_', ' ')}: {event['detail']}"
    if kind == "revision_skipped":
        return f"nothing to push: {event['reason']}"
    if kind in ("model_error", "sandbox_error", "error"):
        return f"{kind.replace('_', ' ')}: {event['error']}"
    if kind == "cancelled":
        return str(event["summary"])
    return ""


class TraceFollower:
    """Says each new telling event of a trace file, with the seconds since `started` (Unix
    time); `poll` reads what the worker wrote since the last call (whole lines only)."""

    def __init__(self, path: Path, started: float, say: Callable[[str], None]) -> None:
        self.path = path
        self.started = started
        self.say = say
        self._offset = 0

    def poll(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as trace:
            trace.seek(self._offset)
            data = trace.read()
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits
        self._offset += len(complete)
        for line in complete.decode("utf-8").splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:  # the last line of a worker that was killed
                continue
            text = progress_text(event)
            if text:
                self.say(progress_line(event["ts"] - self.started, text))
