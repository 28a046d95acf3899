"""`patchbot report` as Markdown, HTML or JSON. Repository names, reasons and logins come from
webhooks, traces and run summaries: untrusted, so made inert (Markdown: `plain`, HTML:
escaped)."""

from __future__ import annotations

import html
import json
from collections.abc import Callable

from bot.console import utc_text
from bot.github.markdown import plain
from bot.kpi.autonomy import AutonomyTrack
from bot.kpi.compute import KpiReport
from bot.kpi.governance import ExceptionItem

Table = tuple[list[str], list[list[str]]]


def _value(value: object) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def tables(
    report: KpiReport, exceptions: list[ExceptionItem] | None, autonomy: list[AutonomyTrack]
) -> dict[str, Table]:
    """The report's sections as (header, rows) of raw (untrusted) text."""
    skip = {"escalations_by_reason", "rework_avoided", "since", "until"}
    kpis = [[name, _value(value)] for name, value in report if name not in skip]
    rework = report.rework_avoided
    kpis += [
        ["rework_avoided.refused_candidates", str(rework.refused_candidates)],
        ["rework_avoided.bot_revision_rounds", str(rework.bot_revision_rounds)],
        ["rework_avoided.hours_estimate", _value(rework.hours_estimate)],
        [
            "assumption: hours_per_refused_candidate",
            _value(rework.assumptions.hours_per_refused_candidate),
        ],
        ["assumption: hours_per_bot_revision", _value(rework.assumptions.hours_per_bot_revision)],
    ]
    sections: dict[str, Table] = {
        "KPIs": (["kpi", "value"], kpis),
        "Escalations by reason": (
            ["reason", "runs"],
            [[reason, str(n)] for reason, n in report.escalations_by_reason.items()],
        ),
        "Staged autonomy (suggestions, never applied)": (
            [
                "repository",
                "path",
                "runs",
                "escalated",
                "merged",
                "first-pass",
                "reverted",
                "suggestion",
                "why",
            ],
            [
                [
                    t.repository,
                    t.path + (" (policy rule)" if t.rule else ""),
                    str(t.runs),
                    str(t.escalated),
                    str(t.merged),
                    str(t.merged_first_pass),
                    str(t.reverted),
                    t.suggestion,
                    t.why,
                ]
                for t in autonomy
            ],
        ),
    }
    if exceptions is not None:
        sections["Exceptions"] = (
            ["when", "kind", "where", "run", "reason", "decided by"],
            [
                [
                    utc_text(e.at),
                    e.kind,
                    f"{e.repository}#{e.issue}",
                    _value(e.run_id),
                    e.reason,
                    e.decided_by or "-",
                ]
                for e in exceptions
            ],
        )
    return sections


def _title(report: KpiReport) -> str:
    where = report.repository or "all repositories"
    return f"Patchbot report: {where}, {utc_text(report.since)} to {utc_text(report.until)}"


def markdown(
    report: KpiReport, exceptions: list[ExceptionItem] | None, autonomy: list[AutonomyTrack]
) -> str:
    lines = [f"# {plain(_title(report))}"]
    for name, (header, rows) in tables(report, exceptions, autonomy).items():
        lines += [
            "",
            f"## {name}",
            "",
            "| " + " | ".join(header) + " |",
            "|" + " --- |" * len(header),
        ]
        lines += ["| " + " | ".join(plain(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def html_page(
    report: KpiReport, exceptions: list[ExceptionItem] | None, autonomy: list[AutonomyTrack]
) -> str:
    esc: Callable[[str], str] = html.escape
    parts = [
        "<!doctype html>",
        '<meta charset="utf-8">',
        f"<title>{esc(_title(report))}</title>",
        f"<h1>{esc(_title(report))}</h1>",
    ]
    for name, (header, rows) in tables(report, exceptions, autonomy).items():
        parts.append(
            f"<h2>{esc(name)}</h2><table><tr>"
            + "".join(f"<th>{esc(h)}</th>" for h in header)
            + "</tr>"
        )
        parts += [
            "<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in rows
        ]
        parts.append("</table>")
    return "\n".join(parts) + "\n"


def json_text(
    report: KpiReport, exceptions: list[ExceptionItem] | None, autonomy: list[AutonomyTrack]
) -> str:
    data: dict[str, object] = {
        **report.model_dump(mode="json"),
        "autonomy": [t.model_dump(mode="json") for t in autonomy],
    }
    if exceptions is not None:
        data["exceptions"] = [e.model_dump(mode="json") for e in exceptions]
    return json.dumps(data, indent=2) + "\n"


RENDERERS = {"md": markdown, "html": html_page, "json": json_text}
