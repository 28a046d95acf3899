"""The report's totals and confusion table, inert HTML and Markdown, and comparing two runs."""

from __future__ import annotations

import json
from pathlib import Path

from bot.eval.compare import compare, load_results
from bot.eval.report import write_report
from bot.eval.results import Row, RunInfo, summarize
from bot.eval.tasks import Task

HOSTILE = '<script>alert(1)</script>|"><img src=x onerror=alert(2)>'


def task(instance_id: str) -> Task:
    return Task(
        instance_id=instance_id, repo="r", base_commit="a" * 40, patch="", test_patch="",
        problem_statement="p", FAIL_TO_PASS=["t"],
    )  # fmt: skip


def row(instance_id: str, accepted: bool, resolved: bool, cost: float | None = 0.5) -> Row:
    return Row(
        instance_id=instance_id, attempt=1, accepted=accepted, resolved=resolved,
        stop_reason="verified" if accepted else "rejected", detail=HOSTILE,
        grade_reason=HOSTILE, cost_usd=cost, steps=4, duration=10.0, trace=f"traces/{HOSTILE}",
    )  # fmt: skip


INFO = RunInfo(
    model="m", policy="default", tasks_file="t.jsonl", attempts=1, patchbot_version="1",
    started_at="now",
)  # fmt: skip


def test_the_totals_count_each_quadrant_and_unknown_cost_stays_unknown() -> None:
    tasks = [task(name) for name in ("a", "b", "c", "d", "e")]
    rows = [row("a", True, True), row("b", True, False), row("c", False, True),
            row("d", False, False)]  # fmt: skip
    summary = summarize(INFO, tasks, rows)
    assert (summary["tasks"], summary["runs"], summary["pending"]) == (5, 4, 1)
    assert (summary["resolved"], summary["accepted"]) == (2, 2)
    assert (summary["accepted_unresolved"], summary["refused_resolved"]) == (1, 1)
    assert summary["cost_usd"] == 2.0 and summary["cost_per_resolved_usd"] == 1.0
    assert summary["escalations"] == {"rejected": 2}
    assert [r["instance_id"] for r in summary["rows"]] == ["a", "b", "c", "d"]
    unknown = summarize(INFO, tasks, [*rows, row("e", True, True, cost=None)])
    assert unknown["cost_usd"] is None and unknown["cost_per_task_usd"] is None


def test_the_pages_show_hostile_task_and_model_text_as_text(tmp_path: Path) -> None:
    summary = summarize(INFO, [task(HOSTILE)], [row(HOSTILE, True, False)])
    write_report(tmp_path, summary)
    page = (tmp_path / "report.html").read_text()
    assert "<script" not in page and "<img" not in page and "&lt;script&gt;" in page
    assert "<a href" not in page  # the hostile trace path is shown, not linked
    assert "default-src 'none'" in page
    markdown = (tmp_path / "report.md").read_text()
    assert "<script" not in markdown and "<img" not in markdown
    table = [line for line in markdown.splitlines() if "alert(1)" in line]
    assert table and all(line.count(" | ") == 7 for line in table)  # no cell split by `|`
    assert "| PR opened, NOT resolved (a wrong PR) | 1 |" in markdown
    assert json.loads((tmp_path / "results.json").read_text())["accepted_unresolved"] == 1


def test_a_trace_beside_the_report_is_linked(tmp_path: Path) -> None:
    linked = row("a", True, True).model_copy(update={"trace": "traces/a-1.jsonl"})
    write_report(tmp_path, summarize(INFO, [task("a")], [linked]))
    assert '<a href="traces/a-1.jsonl">trace</a>' in (tmp_path / "report.html").read_text()


def test_compare_names_what_changed_and_each_task_whose_verdict_moved(tmp_path: Path) -> None:
    tasks = [task("a"), task("b"), task("c")]
    before = summarize(INFO, tasks, [row("a", True, True), row("b", False, False),
                                     row("c", True, True)])  # fmt: skip
    newer = INFO.model_copy(update={"model": "n\x1b[2J"})
    after = summarize(newer, tasks, [row("a", True, True), row("b", True, True),
                                     row("c", True, False)])  # fmt: skip
    for name, summary in (("a", before), ("b", after)):
        (tmp_path / name).mkdir()
        write_report(tmp_path / name, summary)
    lines = compare(load_results(tmp_path / "a"), load_results(tmp_path / "b"))
    assert "  model: m -> n?[2J   <- changed" in lines
    assert "  accepted_unresolved: 0 -> 1 (+1)" in lines
    assert lines[-3:] == [
        "tasks that changed: 2 (1 the same)",
        "  b #1: refused, not resolved -> accepted, resolved",
        "  c #1: accepted, resolved -> accepted, not resolved",
    ]
