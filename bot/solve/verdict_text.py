"""The verdict per test, grouped, as reviewers read it: in the `patchbot/verify` check run, the
pull request body and `report.md`. One screen says why the patch is trusted (or not)."""

from __future__ import annotations

from bot.github.markdown import code, plain
from bot.solve.verify import Change, TestChange, Verification

GROUPS: tuple[tuple[Change, str], ...] = (
    (Change.PROVEN, "proven by failing first"),
    (Change.FIXED, "fixed (base's tests on the fix)"),
    (Change.PASSES_WITHOUT_FIX, "new, but passes without the fix"),
    (Change.GREEN_BY_TEST_EDIT, "green only with edited tests"),
    (Change.BROKEN, "broken"),
    (Change.NEW_FAILING, "new and failing"),
    (Change.STILL_FAILING, "still failing"),
    (Change.FLAKY, "flaky"),
    (Change.REMOVED, "removed"),
    (Change.SKIPPED, "skipped"),
    (Change.STILL_PASSING, "still passing"),
)
ORDER = tuple(change for change, _ in GROUPS)
"""Every kind of change, most telling first."""
SHOWN = 8
"""Tests named per group; the rest are counted."""


def _evidence(item: TestChange) -> str:
    if item.change is Change.PROVEN:
        without = item.without_fix.value if item.without_fix else "not run"
        return f"{code(item.id)} ({without} without the fix" + (
            f"; {plain(item.note)})" if item.note else ")"
        )
    if item.note:
        return f"{code(item.id)} ({plain(item.note)})"
    return code(item.id)


def verdict_markdown(verification: Verification) -> str:
    """Counts and tests per group, the evidence of proven and flaky ones, and the runs read."""
    rows = ["| tests | count | which |", "| --- | --- | --- |"]
    for change, title in GROUPS:
        items = [item for item in verification.changes if item.change is change]
        if not items:
            continue
        if change is Change.STILL_PASSING:
            rows.append(f"| {title} | {len(items)} | |")
            continue
        shown = ", ".join(_evidence(item) for item in items[:SHOWN])
        more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
        rows.append(f"| {title} | {len(items)} | {shown}{more} |")
    runs = "".join(f"\n- {plain(line)}" for line in verification.runs)
    found = "".join(
        f"\n- {'**held**' if finding.held else 'shown'}: {plain(finding.text())}"
        for finding in verification.findings
    )
    return (
        f"**Verdict:** {plain(verification.reason)}\n\n"
        f"**Before:** {plain(verification.baseline_summary)} → "
        f"**after:** {plain(verification.candidate_summary)}\n\n"
        + "\n".join(rows)
        + (f"\n\n**Runs** (each with the base commit's test configuration):{runs}" if runs else "")
        + (f"\n\n**Integrity findings:**{found}" if found else "")
    )
