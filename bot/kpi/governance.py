"""Governance views over a period's records: the exceptions to review (escalations, holds,
approvals, rejections, refusals, people overriding the bot's result), the audit log of
high-impact actions (exportable as JSON lines or CSV). Staged autonomy: `autonomy.py`."""

from __future__ import annotations

import csv
import io
from typing import Literal

from pydantic import BaseModel

from bot.kpi.records import KpiRecords
from bot.runs.models import RunState

ExceptionKind = Literal[
    "escalation", "refusal", "hold", "approval", "rejection", "closed_unmerged", "reverted"
]


class ExceptionItem(BaseModel):
    at: float
    kind: ExceptionKind
    repository: str
    issue: int
    run_id: int | None
    pull_request: int | None = None
    reason: str
    """Untrusted text (a run's summary, a trace's reason): render it inert."""
    decided_by: str | None = None


class AuditEntry(BaseModel):
    at: float
    action: str
    """approved, rejected, pull_request_opened, pushed, merged, closed, reverted, policy_changed."""
    repository: str
    actor: str | None
    run_id: int | None = None
    pull_request: int | None = None
    detail: str = ""


def exceptions_review(records: KpiRecords, since: float, until: float) -> list[ExceptionItem]:
    """The period's exceptions, oldest first."""
    items: list[ExceptionItem] = []
    runs = {run.id: run for run in records.runs}
    for run in records.runs:
        if run.state is RunState.ESCALATED and since <= (run.finished_at or 0) < until:
            facts = records.facts.get(run.id)
            refused = facts is not None and facts.verdict == "deny"
            reason = facts.escalation_reason if facts and facts.escalation_reason else "unknown"
            items.append(
                ExceptionItem(
                    at=run.finished_at or run.updated_at,
                    kind="refusal" if refused else "escalation",
                    repository=run.repository,
                    issue=run.issue,
                    run_id=run.id,
                    pull_request=run.pull_request,
                    reason=f"{reason}: {run.summary}",
                )
            )
    for hold in records.holds:
        held = runs.get(hold.run_id)
        if held is None:
            continue
        if since <= hold.held_at < until:
            items.append(
                ExceptionItem(
                    at=hold.held_at,
                    kind="hold",
                    repository=held.repository,
                    issue=held.issue,
                    run_id=held.id,
                    reason=held.summary,
                )
            )
        if hold.decision is not None and since <= (hold.decided_at or 0) < until:
            items.append(
                ExceptionItem(
                    at=hold.decided_at or hold.held_at,
                    kind="approval" if hold.decision == "approved" else "rejection",
                    repository=held.repository,
                    issue=held.issue,
                    run_id=held.id,
                    reason=f"held: {held.summary}",
                    decided_by=hold.decided_by,
                )
            )
    for outcome in records.outcomes:
        closed = outcome.closed_at if outcome.state == "closed" else None
        ends: list[tuple[ExceptionKind, float | None, str | None, str]] = [
            ("closed_unmerged", closed, outcome.closed_by, "closed without merging"),
            ("reverted", outcome.reverted_at, None, f"reverted by {outcome.revert_sha}"),
        ]
        for kind, at, who, reason in ends:
            if at is not None and since <= at < until:
                items.append(
                    ExceptionItem(
                        at=at,
                        kind=kind,
                        repository=outcome.repository,
                        issue=outcome.issue,
                        run_id=outcome.run_id,
                        pull_request=outcome.pull_request,
                        reason=reason,
                        decided_by=who,
                    )
                )
    return sorted(items, key=lambda item: item.at)


def audit_log(records: KpiRecords, bot_login: str) -> list[AuditEntry]:
    """High-impact actions, oldest first: approvals and rejections, pull requests opened, the
    bot's pushes to them, merges, closings, reverts, and a repository's policy changing
    between two runs."""
    entries: list[AuditEntry] = []
    runs = {run.id: run for run in records.runs}
    for hold in records.holds:
        if hold.decision is not None and hold.decided_at is not None:
            run = runs.get(hold.run_id)
            entries.append(
                AuditEntry(
                    at=hold.decided_at,
                    action=hold.decision,
                    repository=run.repository if run else "?",
                    actor=hold.decided_by,
                    run_id=hold.run_id,
                )
            )
    for outcome in records.outcomes:
        name, number = outcome.repository, outcome.pull_request
        if outcome.opened_at is not None:
            entries.append(
                AuditEntry(
                    at=outcome.opened_at,
                    action="pull_request_opened",
                    actor=bot_login,
                    run_id=outcome.run_id,
                    detail=f"{outcome.branch} at {outcome.first_head_sha}",
                    repository=name,
                    pull_request=number,
                )
            )
        if outcome.closed_at is not None:
            action = "merged" if outcome.state == "merged" else "closed"
            who = outcome.merged_by if outcome.state == "merged" else outcome.closed_by
            entries.append(
                AuditEntry(
                    at=outcome.closed_at,
                    action=action,
                    actor=who,
                    repository=name,
                    pull_request=number,
                )
            )
        if outcome.reverted_at is not None:
            entries.append(
                AuditEntry(
                    at=outcome.reverted_at,
                    action="reverted",
                    actor=None,
                    detail=f"by {outcome.revert_sha}",
                    repository=name,
                    pull_request=number,
                )
            )
    policies: dict[str, str] = {}
    for run in sorted(records.runs, key=lambda r: r.created_at):
        if run.pull_request is not None and run.state is RunState.SUCCEEDED:
            entries.append(
                AuditEntry(
                    at=run.finished_at or run.updated_at,
                    action="pushed",
                    repository=run.repository,
                    actor=bot_login,
                    run_id=run.id,
                    pull_request=run.pull_request,
                    detail=f"revision {run.iteration}",
                )
            )
        facts = records.facts.get(run.id)
        if facts is None or facts.policy_digest is None:
            continue
        seen = policies.get(run.repository)
        if seen is not None and seen != facts.policy_digest:
            entries.append(
                AuditEntry(
                    at=run.started_at or run.created_at,
                    action="policy_changed",
                    repository=run.repository,
                    actor=None,
                    run_id=run.id,
                    detail="the run read a policy that differs from the previous run's",
                )
            )
        policies[run.repository] = facts.policy_digest
    return sorted(entries, key=lambda entry: entry.at)


def audit_jsonl(entries: list[AuditEntry]) -> str:
    return "".join(entry.model_dump_json() + "\n" for entry in entries)


def audit_csv(entries: list[AuditEntry]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(AuditEntry.model_fields))
    writer.writeheader()
    for entry in entries:
        row = entry.model_dump()
        # A cell a spreadsheet would run as a formula is quoted as text.
        writer.writerow({k: f"'{v}" if str(v)[:1] in "=+-@" else v for k, v in row.items()})
    return out.getvalue()
