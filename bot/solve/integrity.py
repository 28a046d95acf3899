"""The integrity gate's findings on a verified candidate: what a human must see before a test
suite's green counts, each naming the file, the test and the line. Held findings wait for a
human's approval under the default policy (`verification.hold_integrity`); the rest are shown.
"""

from __future__ import annotations

import ast

from bot.policy.diff import ChangedFile, parse_diff
from bot.solve.code_scan import adds_skip, is_assertion, runner_reach
from bot.solve.finding import Finding, Kind
from bot.solve.split import BaseReader, Split, is_config
from bot.solve.verify import Change, Verification


def _test_at(source: str | None, line: int) -> str:
    """The test function (or class) of a file that holds `line`, by its name."""
    if not source:
        return ""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test")
            and node.lineno <= line <= (node.end_lineno or node.lineno)
        ):
            return node.name
    return ""


def findings(
    patch: str, split: Split, verification: Verification, read_base: BaseReader
) -> list[Finding]:
    """Every finding on `patch`, judged with the verdict's per-test outcomes."""
    found: list[Finding] = []
    failing_files = {
        item.id.split("::", 1)[0]
        for item in verification.changes
        if item.before is not None and item.before.value in ("failed", "error")
    }
    for path in split.config:
        what = "changes the test configuration; verified with the base commit's instead"
        found.append(Finding(kind="config", path=path, what=what, held=True))
    for item in verification.changes:
        if item.change is Change.REMOVED:
            found.append(_about(item.id, "removed", "no longer collected or run", True))
        elif item.change is Change.GREEN_BY_TEST_EDIT:
            what = "failed on the base and passes only with the patch's edits to the tests"
            found.append(_about(item.id, "bent", what, True))
    for changed in parse_diff(patch):
        found += _line_findings(changed, split, failing_files, read_base)
    return found


def _about(test_id: str, kind: Kind, what: str, held: bool) -> Finding:
    return Finding(kind=kind, path=test_id.split("::", 1)[0], test=test_id, what=what, held=held)


def _line_findings(
    changed: ChangedFile,
    split: Split,
    failing_files: set[str],
    read_base: BaseReader,
) -> list[Finding]:
    path = changed.path
    is_test = path in split.tests
    found = []
    for line in changed.added_lines:
        if reach := runner_reach(line.text):
            what = f"reaches into the test runner ({reach})"
            found.append(Finding(kind="runner", path=path, line=line.number, what=what, held=True))
        elif is_test and adds_skip(line.text):
            what = "adds a skip or xfail marker"
            found.append(Finding(kind="skip", path=path, line=line.number, what=what, held=True))
    if not is_test or is_config(path) or changed.status == "added":
        return found
    base = read_base(changed.old_path or path)
    for line in changed.removed_lines:
        if not is_assertion(line.text):
            continue
        test = _test_at(base, line.number)
        held = path in failing_files
        what = (
            "removes or changes an assertion of a test that failed on the base (the judge bent)"
            if held
            else "changes an existing test's expectation"
        )
        kind: Kind = "assertion" if held else "expectation"
        found.append(
            Finding(kind=kind, path=path, line=line.number, test=test, what=what, held=held)
        )
    return found
