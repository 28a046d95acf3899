"""What the KPIs need from a run's trace, kept in the store when the run ends (`run_facts`,
migration 11) so a KPI page reads rows, not trace files: why it escalated, the candidates
verification refused, the policy it ran under (a digest and its autonomy rules), the final
gates' verdict, when it opened its pull request. A run ended before migration 11 has no row:
its trace is read once and the facts stored then (`bot.kpi.records`)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from bot.trace import read_trace


class RunFacts(BaseModel):
    """What one run's trace says; everything None or empty when it has no trace here."""

    pr_opened_at: float | None = None
    escalation_reason: str | None = None
    """The `reason` of its last `escalated` event (a stop reason, `policy deny`, ...)."""
    refused_candidates: int = 0
    """Candidate patches verification rejected (each one a defect stopped before review)."""
    policy_digest: str | None = None
    """SHA-256 of the policy it ran under, as its trace kept it: two runs read the same
    policy when their digests are equal."""
    autonomy_paths: dict[str, str] = Field(default_factory=dict)
    """That policy's `autonomy.paths` rules (glob -> level), in its order."""
    verdict: str | None = None
    """The final gates' verdict: allow, needs_approval or deny."""


class CycleTimeBaseline(BaseModel):
    """People's cycle time on a repository: issue opened -> the pull request that fixed it
    merged, from the REST API (`bot.kpi.baseline`)."""

    repository: str
    median_s: float | None
    """Median seconds; None when no merged pull request said which issue it fixed."""
    samples: int
    """Issues with a fixing pull request found (the median's sample)."""
    scanned: int
    """Merged pull requests by people looked at."""
    computed_at: float


def policy_digest(policy: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(policy, sort_keys=True).encode()).hexdigest()


def read_facts(path: Path) -> RunFacts:
    """A run's facts from its trace file (trace content is untrusted: only typed fields are
    kept, and they are rendered inert wherever shown)."""
    facts = RunFacts()
    if not path.exists():
        return facts
    for event in read_trace(path):
        kind = event.get("kind")
        if kind == "pull_request" and facts.pr_opened_at is None:
            facts.pr_opened_at = _number(event.get("ts"))
        elif kind == "escalated":
            facts.escalation_reason = str(event.get("reason") or "unknown")
        elif kind == "verification" and event.get("accepted") is False:
            facts.refused_candidates += 1
        elif kind == "policy" and isinstance(event.get("policy"), dict):
            facts.policy_digest = policy_digest(event["policy"])
            facts.autonomy_paths = _autonomy_paths(event["policy"])
        elif kind == "policy_gates":
            facts.verdict = str(event.get("verdict"))
    return facts


def _autonomy_paths(policy: dict[str, Any]) -> dict[str, str]:
    autonomy = policy.get("autonomy")
    rules = autonomy.get("paths") if isinstance(autonomy, dict) else None
    if not isinstance(rules, dict):
        return {}
    return {str(glob): str(level) for glob, level in rules.items()}


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
