"""A run's trace read as a timeline: each event one step, a GitHub call one line."""

from __future__ import annotations

from pathlib import Path

from bot.dashboard.timeline import read_timeline
from bot.trace import Trace


def test_a_github_call_is_one_line_with_its_status_and_duration(tmp_path: Path) -> None:
    with Trace(tmp_path / "trace.jsonl") as trace:
        trace.event("claimed", worker="w1", attempt=1)
        trace.event(
            "github_call", method="POST", path="/repos/o/r/pulls", status=201, duration=0.25
        )
        trace.event("pipeline", step="pushed", detail="branch patchbot/issue-1")
    claimed, call, pushed = read_timeline(tmp_path / "trace.jsonl").steps
    assert (call.category, call.title, call.duration) == (
        "github",
        "POST /repos/o/r/pulls → 201",
        0.25,
    )
    assert call.texts == []
    assert claimed.category == "run" and claimed.texts and "w1" in claimed.texts[0][1]
    assert (pushed.title, pushed.texts) == ("pushed", [("detail", "branch patchbot/issue-1")])
