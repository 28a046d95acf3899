"""Added lines that reach into the test runner: its internals, hooks or report, the garbage
collector walked to find it, exit tricks, interpreter start-up files. Patterns, not proof:
each hit is a finding a human looks at."""

from __future__ import annotations

import re

RUNNER_REACH: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("pytest internals", re.compile(r"\b_pytest\b|\bpluginmanager\b|\bconfig\.hook\b")),
    ("a pytest hook", re.compile(r"\bdef\s+pytest_\w+|\bpytest_plugins\b")),
    ("the garbage collector walked", re.compile(r"\bgc\.get_(?:objects|referrers|referents)\b")),
    ("an exit hook", re.compile(r"\batexit\b|\bos\._exit\b|\bsys\.exitfunc\b")),
    ("an interpreter start-up file", re.compile(r"\b(?:site|user)customize\b|\.pth\b")),
    ("the runner's options", re.compile(r"\bPYTEST_(?:ADDOPTS|PLUGINS)\b|\baddopts\b")),
    ("a test report", re.compile(r"junit|patchbot[-_]judge|\.jsonl\b", re.IGNORECASE)),
    ("unittest's result", re.compile(r"\bTestResult\b|\b_TextTestResult\b|\bunittest\.main\b")),
)
"""What a line may name, and what it means that it does."""
SKIP_MARK = re.compile(
    r"\bpytest\.mark\.(?:skip|skipif|xfail)\b|\bpytest\.(?:skip|xfail|importorskip)\s*\("
    r"|\bunittest\.(?:skip|skipIf|skipUnless|expectedFailure)\b|\bself\.skipTest\s*\("
)
ASSERTION = re.compile(r"^\s*assert\b|\bself\.assert\w+\s*\(|\bpytest\.(?:raises|approx)\b")


def runner_reach(text: str) -> str | None:
    """What the line reaches into, or None."""
    return next((what for what, pattern in RUNNER_REACH if pattern.search(text)), None)


def adds_skip(text: str) -> bool:
    return bool(SKIP_MARK.search(text))


def is_assertion(text: str) -> bool:
    return bool(ASSERTION.search(text))
