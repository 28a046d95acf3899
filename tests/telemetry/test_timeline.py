"""A run's timeline from its trace events (steps, and the calls each made), and the worker's
own metrics endpoint."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

from bot.telemetry.metrics import serve_metrics
from bot.telemetry.timeline import RunEvents, timeline
from bot.testing.loopback import free_port
from bot.trace import Trace


def test_steps_split_the_attempt_and_calls_land_in_the_step_they_began_in() -> None:
    events = RunEvents()
    for record in [
        {"ts": 10.0, "kind": "claimed"},
        {
            "ts": 11.0,
            "kind": "github_call",
            "method": "GET",
            "path": "/r",
            "status": 200,
            "duration": 0.5,
        },
        {"ts": 12.0, "kind": "pipeline", "step": "cloned"},
        {"ts": 12.5, "kind": "solve_start", "model": "anthropic/claude-x", "limits": {}},
        {"ts": 13.0, "kind": "model_request", "new_messages": [{"content": "secret"}]},
        {
            "ts": 14.0,
            "kind": "model_response",
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "cost_usd": None},
            "message": {"content": "text"},
        },
        {"ts": 14.0, "kind": "tool_call", "id": "c1", "name": "bash", "arguments": "ls"},
        {"ts": 15.0, "kind": "tool_result", "id": "c1", "name": "bash", "error": "exit 2"},
        {"ts": 16.0, "kind": "agent_stop", "reason": "finished"},
        {
            "ts": 17.0,
            "kind": "github_call",
            "method": "POST",
            "path": "/p",
            "status": 502,
            "duration": 1.0,
        },
    ]:
        events(record)
    assert all("new_messages" not in e and "message" not in e for e in events.events)
    steps = timeline(events.events, 10.0, 18.0)
    assert [(s.name, s.start, s.end) for s in steps] == [
        ("cloned", 10.0, 12.0),
        ("agent", 12.0, 16.0),
        ("finish", 16.0, 18.0),
    ]
    cloned, agent, finish = (
        [(c.kind, c.name, c.start, c.end, c.error) for c in s.calls] for s in steps
    )
    assert cloned == [("github", "GET /r", 10.5, 11.0, None)]
    assert agent == [
        ("model", "anthropic/claude-x", 13.0, 14.0, None),
        ("tool", "bash", 14.0, 15.0, "exit 2"),
    ]
    assert finish == [("github", "POST /p", 16.0, 17.0, "HTTP 502")]
    assert steps[1].calls[0].attributes["input_tokens"] == 7


def test_the_trace_tells_its_observer_each_event_redacted(tmp_path: Path) -> None:
    heard: list[dict[str, Any]] = []
    with Trace(tmp_path / "t.jsonl", observer=heard.append) as trace:
        trace.event("pipeline", step="cloned", token="ghs_" + "a" * 36)
    assert heard[0]["step"] == "cloned" and heard[0]["token"] == "[REDACTED]"


def test_a_worker_serves_its_own_metrics(scrape: Any) -> None:
    port = free_port()
    server = serve_metrics("127.0.0.1", port)
    try:
        scrape.metrics.model_call("openai/m", 5, 2, 0.01)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    finally:
        server.shutdown()
    assert scrape.value("patchbot_model_tokens_total", text, model="openai/m", type="input") == 5
    assert "patchbot_runs" not in text  # the store's view comes from `serve` only
