"""A run's trace as a timeline for people: each event a step with its time, what it was (a
prompt, the model's answer, a tool call and its result, a gate's decision, an action on
GitHub) and, where known, its tokens, cost and duration; then the test table and the diff.

Everything here comes from the trace and stays plain text: the templates escape it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.trace import read_trace

MAX_TEXT = 20_000
"""Characters of one text shown; the rest is cut with a note (`patchbot runs show` has all)."""

CATEGORIES: dict[str, str] = {
    "model_request": "prompt",
    "model_response": "answer",
    "model_error": "answer",
    "tool_call": "tool",
    "tool_result": "tool",
    "policy_gates": "gate",
    "verification": "gate",
    "baseline_gate": "gate",
    "awaiting_approval": "gate",
    "escalated": "gate",
    "approved": "gate",
    "pipeline": "github",
    "pull_request": "github",
    "patch_commented": "github",
    "github_call": "github",
}
"""The kind of step each event is; any other event is `run` (claimed, set-up, finished...)."""


@dataclass
class Step:
    at: float
    offset: float
    """Seconds since the trace's first event."""
    kind: str
    category: str
    title: str
    texts: list[tuple[str, str]] = field(default_factory=list)
    """(label, text) blocks, shown as preformatted text."""
    tokens: str | None = None
    cost_usd: float | None = None
    cost_known: bool = False
    duration: float | None = None


@dataclass
class Timeline:
    steps: list[Step] = field(default_factory=list)
    tests: list[dict[str, Any]] = field(default_factory=list)
    """The last verification's test changes (id, before, without_fix, after, change, note)."""
    diff: str = ""
    """The last patch judged."""
    issue_title: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0


def cut(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return f"{text[:MAX_TEXT]}\n… ({len(text) - MAX_TEXT:,} more characters)"


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def read_timeline(path: Path) -> Timeline:
    """The timeline of the trace at `path` (empty when there is none)."""
    timeline = Timeline()
    if not path.exists():
        return timeline
    first: float | None = None
    for event in read_trace(path):
        stamp = event.get("ts")
        at = float(stamp) if isinstance(stamp, int | float) else 0.0
        first = at if first is None else first
        timeline.steps.append(_step(event, at, at - first, timeline))
    return timeline


def _step(event: dict[str, Any], at: float, offset: float, timeline: Timeline) -> Step:
    kind = str(event.get("kind", "?"))
    data = {key: value for key, value in event.items() if key not in ("ts", "kind")}
    step = Step(at, offset, kind, CATEGORIES.get(kind, "run"), kind.replace("_", " "))
    describe = _DESCRIBE.get(kind)
    if describe is not None:
        describe(step, data, timeline)
    elif data:
        step.texts.append(("details", cut(_text(data))))
    return step


def _prompt(step: Step, data: dict[str, Any], timeline: Timeline) -> None:
    step.title = f"prompt for step {data.get('step', '?')}"
    for message in data.get("new_messages") or []:
        if isinstance(message, dict) and message.get("role") != "tool":
            step.texts.append((str(message.get("role", "?")), cut(_text(message.get("content")))))


def _answer(step: Step, data: dict[str, Any], timeline: Timeline) -> None:
    step.title = f"model answer, step {data.get('step', '?')}"
    message = _mapping(data.get("message"))
    if message.get("content"):
        step.texts.append(("said", cut(_text(message["content"]))))
    for call in message.get("tool_calls") or []:
        function = _mapping(_mapping(call).get("function"))
        step.texts.append(
            (f"calls {function.get('name', '?')}", cut(_text(function.get("arguments"))))
        )
    usage = _mapping(data.get("usage"))
    prompt, completion = (
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
    )
    timeline.prompt_tokens += prompt
    timeline.completion_tokens += completion
    step.tokens = f"{prompt:,} in / {completion:,} out"
    cost = usage.get("cost_usd")
    step.cost_usd, step.cost_known = (
        (float(cost), True) if isinstance(cost, int | float) else (None, True)
    )
    step.duration = data.get("latency") if isinstance(data.get("latency"), int | float) else None


def _tool_call(step: Step, data: dict[str, Any], timeline: Timeline) -> None:
    step.title = f"tool call: {data.get('name', '?')}"
    step.texts.append(("arguments", cut(_text(data.get("arguments", "")))))


def _tool_result(step: Step, data: dict[str, Any], timeline: Timeline) -> None:
    step.title = f"tool result: {data.get('name', '?')}" + (" (error)" if data.get("error") else "")
    if data.get("output") is not None:
        step.texts.append(("output", cut(_text(data["output"]))))
    step.duration = data.get("duration") if isinstance(data.get("duration"), int | float) else None


def _verification(step: Step, data: dict[str, Any], timeline: Timeline) -> None:
    verdict = "accepted" if data.get("accepted") else "refused"
    step.title = f"verification of attempt {data.get('attempt', '?')}: {verdict}"
    step.texts.append(("reason", cut(_text(data.get("reason", "")))))
    changes = data.get("changes")
    if isinstance(changes, list) and changes:
        timeline.tests = [change for change in changes if isinstance(change, dict)]
    if isinstance(data.get("patch"), str) and data["patch"]:
        timeline.diff = cut(data["patch"])


def _solve_start(step: Step, data: dict[str, Any], timeline: Timeline) -> None:
    timeline.issue_title = str(data.get("issue") or "")
    step.title = f"solving: {timeline.issue_title}" if timeline.issue_title else "solving"
    step.texts.append(("details", cut(_text(data))))


def _pipeline(step: Step, data: dict[str, Any], timeline: Timeline) -> None:
    step.title = str(data.get("step") or "pipeline")
    if data.get("detail"):
        step.texts.append(("detail", cut(_text(data["detail"]))))


def _pull_request(step: Step, data: dict[str, Any], timeline: Timeline) -> None:
    step.title = f"pull request #{data.get('number', '?')} opened"
    step.texts.append(("url", _text(data.get("url", ""))))


def _github_call(step: Step, data: dict[str, Any], timeline: Timeline) -> None:
    """One line, no details block: a run makes dozens of these."""
    step.title = f"{data.get('method', '?')} {data.get('path', '?')} → {data.get('status', '?')}"
    duration = data.get("duration")
    step.duration = float(duration) if isinstance(duration, int | float) else None


_DESCRIBE = {
    "github_call": _github_call,
    "model_request": _prompt,
    "model_response": _answer,
    "tool_call": _tool_call,
    "tool_result": _tool_result,
    "verification": _verification,
    "solve_start": _solve_start,
    "pipeline": _pipeline,
    "pull_request": _pull_request,
}
