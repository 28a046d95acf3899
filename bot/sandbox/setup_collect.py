"""The collection check that decides whether a set-up works: the test runner loads the suite
without running it, and says how many tests it found and what failed to import."""

from __future__ import annotations

import re
import shlex

from bot.sandbox.testrun import TestPlan

UNITTEST_COLLECT = """\
import sys, unittest
class Collect(unittest.TestProgram):
    def runTests(self):
        pass
program = Collect(module=None, argv=["python -m unittest", *sys.argv[1:]], exit=False)
def walk(suite):
    for test in suite:
        yield from walk(test) if isinstance(test, unittest.TestSuite) else [test]
tests = list(walk(program.test))
failed = [t for t in tests if type(t).__name__ in ("_FailedTest", "ModuleImportFailure")]
for test in failed:
    print("ERROR collecting", test.id(), file=sys.stderr)
    print(getattr(test, "_exception", ""), file=sys.stderr)
print(f"{len(tests) - len(failed)} tests collected, {len(failed)} errors")
"""
_CAUSE = re.compile(
    r"\w+(Error|Exception):|No module named|cannot import|Because |No solution|"
    r"unrecognized arguments|No matching distribution|ResolutionImpossible|"
    r"No space left on device|\[patchbot: "
)
_PYTEST_COUNT = re.compile(r"(\d+)(?:/\d+)? tests? (?:collected|selected)")
_PYTEST_ERRORS = re.compile(r"(\d+) errors?\b")
_PER_FILE = re.compile(r"^\S+\.py: (\d+)$")
_UNITTEST_COUNT = re.compile(r"^(\d+) tests collected, (\d+) errors$", re.MULTILINE)
DECISIVE = re.compile(
    r"(Error|error:|ERROR|No module named|cannot import|not found|No solution|Because |"
    r"conflict|Could not|ResolutionImpossible|\u00d7|\u2570\u2500\u25b6|unrecognized arguments|"
    r"Failed to|No space left on device|\[patchbot: )"
)


def collect_command(plan: TestPlan) -> str:
    """The test plan's command made to load the tests only."""
    if plan.runner == "unittest":
        prefix, _, args = plan.command.partition("python -m unittest")
        return f"{prefix}python -c {shlex.quote(UNITTEST_COLLECT)} {args.strip()}"
    command = plan.command
    if plan.junit_path:
        command = command.replace(f"--junitxml={plan.junit_path}", "")
    return f"{command} --collect-only -q"


def read_collection(runner: str, exit_code: int, output: str) -> tuple[int, int]:
    """(tests collected, collection errors) from the check's output; an error-free count of
    zero with a failing exit code is one error (pytest's usage errors, a crashed runner)."""
    if runner == "unittest":
        counts = _UNITTEST_COUNT.findall(output)
        return (int(counts[-1][0]), int(counts[-1][1])) if counts else (0, 1)
    collected = 0
    lines = [line for line in output.splitlines() if line.strip()]
    for line in reversed(lines[-40:]):
        if match := _PYTEST_COUNT.search(line):
            collected = int(match[1])
            break
    else:  # `-qq` prints `file.py: N` per file
        collected = sum(int(m[1]) for line in lines if (m := _PER_FILE.match(line.strip())))
    errors = 0
    for line in reversed(lines[-40:]):
        if (match := _PYTEST_ERRORS.search(line)) and ("error" in line and "in " in line):
            errors = int(match[1])
            break
    if exit_code not in (0, 5) and errors == 0:
        errors = 1
    return collected, errors


def decisive_lines(output: str, limit: int = 8) -> list[str]:
    """The lines that say why a step failed, the most telling last: an exception or a
    resolver's reason after lines that only name what failed (`ERROR tests/x.py`)."""
    lines = [line.rstrip()[:300] for line in output.splitlines() if DECISIVE.search(line)]
    lines = list(dict.fromkeys(lines))
    lines.sort(key=lambda line: bool(_CAUSE.search(line)))  # stable: order kept within each
    if not lines:
        lines = [line.rstrip()[:300] for line in output.strip().splitlines()[-3:]]
    return lines[-limit:]
