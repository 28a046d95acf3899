"""An evaluation's report: `results.json`, `report.md` and an inert `report.html` (everything
from the tasks and the model is escaped; no script, no remote resource)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from bot.console import cost_text
from bot.github.markdown import plain

QUADRANT_ROWS = (
    ("accepted_resolved", "PR opened, resolved"),
    ("accepted_unresolved", "PR opened, NOT resolved (a wrong PR)"),
    ("refused_resolved", "refused, would have resolved"),
    ("refused_unresolved", "refused, not resolved"),
)


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"


def _headline(summary: dict[str, Any]) -> list[tuple[str, str]]:
    runs = summary["runs"]
    return [
        ("model", str(summary["run"]["model"])),
        ("tasks", str(summary["tasks"])),
        ("runs", f"{runs} ({summary['pending']} pending)"),
        ("resolved", f"{summary['resolved']} ({_percent(summary['resolved'], runs)})"),
        ("accepted", f"{summary['accepted']} ({_percent(summary['accepted'], runs)})"),
        ("cost", cost_text(summary["cost_usd"])),
        ("cost per task", cost_text(summary["cost_per_task_usd"])),
        ("cost per resolved task", cost_text(summary["cost_per_resolved_usd"])),
        ("mean time", f"{summary['mean_seconds'] or 0:.1f} s"),
        ("mean steps", f"{summary['mean_steps'] or 0:.1f}"),
    ]


def _row_cells(row: dict[str, Any]) -> list[str]:
    verdict = ("accepted" if row["accepted"] else "refused") + (
        ", resolved" if row["resolved"] else ", not resolved"
    )
    return [
        f"{row['instance_id']} #{row['attempt']}",
        verdict,
        row["stop_reason"],
        row["grade_reason"],
        cost_text(row["cost_usd"]),
        f"{row['duration']:.0f} s",
        str(row["steps"]),
        row["trace"],
    ]


_TRACE = re.compile(r"traces/[\w.-]+\.jsonl")
HEADER = ["task", "verdict", "stop", "grade", "cost", "time", "steps", "trace"]


def markdown(summary: dict[str, Any]) -> str:
    """report.md: every value from a task or the model as plain, inert text."""
    lines = ["# Patchbot evaluation", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {plain(value)} |" for name, value in _headline(summary)]
    lines += ["", "## The gate's confusion table", "", "| | runs |", "|---|---|"]
    lines += [f"| {label} | {summary[key]} |" for key, label in QUADRANT_ROWS]
    lines += ["", "## Escalations by reason", ""]
    lines += [f"- {plain(reason)}: {n}" for reason, n in summary["escalations"].items()]
    lines += [] if summary["escalations"] else ["(none)"]
    lines += ["", "## Tasks", "", "| " + " | ".join(HEADER) + " |", "|---" * len(HEADER) + "|"]
    for row in summary["rows"]:
        lines.append("| " + " | ".join(plain(cell) for cell in _row_cells(row)) + " |")
    return "\n".join(lines) + "\n"


def _bar(label: str, value: int, whole: int, colour: str) -> str:
    width = round(300 * value / whole) if whole else 0
    return (
        f'<div class="bar"><span class="label">{html.escape(label)}</span>'
        f'<span style="display:inline-block;width:{width}px;background:{colour}">&nbsp;</span>'
        f" {value}</div>"
    )


def page(summary: dict[str, Any]) -> str:
    """report.html: one page, no script; every value escaped."""
    esc = html.escape
    runs = summary["runs"]
    colours = ("#2e7d32", "#c62828", "#f9a825", "#9e9e9e")
    parts = [
        '<!doctype html><html><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        "<title>Patchbot evaluation</title><style>body{font-family:sans-serif}"
        "td,th{border:1px solid #ccc;padding:2px 6px}table{border-collapse:collapse}"
        ".label{display:inline-block;width:260px}</style></head><body>",
        "<h1>Patchbot evaluation</h1><table>",
    ]
    parts += [f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in _headline(summary)]
    parts.append("</table><h2>The gate's confusion table</h2>")
    for (key, label), colour in zip(QUADRANT_ROWS, colours, strict=True):
        parts.append(_bar(label, summary[key], runs, colour))
    parts.append("<h2>Escalations by reason</h2>")
    for reason, count in summary["escalations"].items():
        parts.append(_bar(reason, count, runs, "#5c6bc0"))
    parts.append("<h2>Tasks</h2><table><tr>")
    parts += [f"<th>{esc(name)}</th>" for name in HEADER]
    parts.append("</tr>")
    for row in summary["rows"]:
        cells = _row_cells(row)
        trace = cells[-1]  # a link only to a trace file beside the report, never a URL
        link = f'<a href="{esc(trace)}">trace</a>' if _TRACE.fullmatch(trace) else esc(trace)
        parts.append(
            "<tr>"
            + "".join(f"<td>{esc(cell)}</td>" for cell in cells[:-1])
            + f"<td>{link}</td></tr>"
        )
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"


def write_report(out: Path, summary: dict[str, Any]) -> None:
    (out / "results.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    (out / "report.md").write_text(markdown(summary))
    (out / "report.html").write_text(page(summary))
