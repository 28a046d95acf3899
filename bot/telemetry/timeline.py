"""A run attempt's timeline from its trace events: the steps it went through and the model,
tool and GitHub calls each step made. Metrics (step durations) and spans read this one
account, so they cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STEP_ENDS = {
    "setup": "setup",
    "baseline": "baseline",
    "agent_stop": "agent",
    "verification": "verification",
    "pull_request": "pull_request",
    "escalated": "escalated",
    "awaiting_approval": "awaiting_approval",
}
"""Events that end a step, and the step's name; a `pipeline` event ends the step named by its
`step` field (`cloned`, `solved`, `pushed`, ...). The time after the last of them, to the
attempt's end, is the step `finish`. Every name comes from the code: the set is bounded."""
_KEPT = {
    "model_request": (),
    "model_response": ("usage",),
    "model_error": ("error_kind",),
    "tool_call": ("id", "name"),
    "tool_result": ("id", "error"),
    "github_call": ("method", "path", "status", "duration"),
    "solve_start": ("model",),
    "pipeline": ("step",),
}
"""The events a timeline reads, and the fields it keeps of each: no message or output text."""


@dataclass
class Step:
    name: str
    start: float
    end: float
    calls: list[Call] = field(default_factory=list)


@dataclass
class Call:
    """A model call (`model`), a tool call (`tool`) or a GitHub API call (`github`)."""

    kind: str
    name: str
    """The model, the tool, or `METHOD /path`."""
    start: float
    end: float
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class RunEvents:
    """A `Trace` observer that keeps what a timeline needs of each event, in order."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, record: dict[str, Any]) -> None:
        kind = record.get("kind")
        if kind in _KEPT:
            kept = {name: record.get(name) for name in _KEPT[kind]}
            self.events.append({"kind": kind, "ts": float(record["ts"]), **kept})
        elif kind in STEP_ENDS:
            self.events.append({"kind": kind, "ts": float(record["ts"])})


def timeline(events: list[dict[str, Any]], start: float, end: float) -> list[Step]:
    """The steps from `start` to `end` (Unix times), each with the calls made in it: a call
    belongs to the step open when its first event was written (order, not clock: a call and
    the event that ends its step can share a millisecond)."""
    steps: list[Step] = []
    begun = start
    opened: list[int] = []
    """For each event, the index of the step open when it was written."""
    for event in events:
        opened.append(len(steps))
        name = _step_name(event)
        if name is not None:
            steps.append(Step(name, begun, max(event["ts"], begun)))
            begun = steps[-1].end
    steps.append(Step("finish", begun, max(end, begun)))
    for index, call in _calls(events):
        steps[opened[index]].calls.append(call)
    return steps


def _step_name(event: dict[str, Any]) -> str | None:
    if event["kind"] == "pipeline":
        return str(event.get("step") or "pipeline")
    return STEP_ENDS.get(event["kind"])


def _calls(events: list[dict[str, Any]]) -> list[tuple[int, Call]]:
    """Each call with the index of its first event."""
    calls: list[tuple[int, Call]] = []
    model = "unknown"
    asked: tuple[int, float] | None = None
    tools: dict[str, tuple[int, float, str]] = {}
    for index, event in enumerate(events):
        kind, ts = event["kind"], event["ts"]
        if kind == "solve_start":
            model = str(event.get("model") or model)
        elif kind == "model_request":
            asked = (index, ts)
        elif kind in ("model_response", "model_error") and asked is not None:
            call = Call("model", model, asked[1], ts, error=event.get("error_kind"))
            usage = event.get("usage") or {}
            call.attributes = {
                "input_tokens": usage.get("prompt_tokens", 0),
                "output_tokens": usage.get("completion_tokens", 0),
                "cost_usd": usage.get("cost_usd"),
            }
            calls.append((asked[0], call))
            asked = None
        elif kind == "tool_call":
            tools[str(event.get("id"))] = (index, ts, str(event.get("name")))
        elif kind == "tool_result" and str(event.get("id")) in tools:
            first, began, name = tools.pop(str(event.get("id")))
            call = Call("tool", name, began, ts, {"call_id": event.get("id")})
            call.error = event.get("error") or None
            calls.append((first, call))
        elif kind == "github_call":
            duration = float(event.get("duration") or 0.0)
            status = event.get("status")
            name = f"{event.get('method')} {event.get('path')}"
            failed = f"HTTP {status}" if isinstance(status, int) and status >= 400 else None
            if status is None:
                failed = "no answer"
            calls.append(
                (index, Call("github", name, ts - duration, ts, {"status": status}, failed))
            )
    return calls
