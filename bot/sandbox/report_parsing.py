"""Per-test results from JUnit XML, pytest's `-rA` summary, or unittest's `-v` listing."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from bot.sandbox.models import Outcome, TestCase

MESSAGE_CHARS = 500
_WORSE = {Outcome.SKIPPED: 0, Outcome.PASSED: 1, Outcome.FAILED: 2, Outcome.ERROR: 3}

_SUMMARY_HEADER = re.compile(r"^=+ short test summary info =+$")
_TRUNCATED = re.compile(r"^\[\.\.\. \d+ bytes truncated \.\.\.\]$")
"""The line the sandbox puts where it cut the middle out of a long output."""
_PYTEST_RESULT = re.compile(r"^(?P<word>PASSED|FAILED|ERROR|XFAIL|XPASS) (?P<rest>\S.*)$")
_PYTEST_SKIPPED = re.compile(r"^SKIPPED \[(?P<count>\d+)\] (?P<where>.+?): (?P<message>.*)$")
_PYTEST_WORDS = {
    "PASSED": Outcome.PASSED,
    "FAILED": Outcome.FAILED,
    "ERROR": Outcome.ERROR,
    "XFAIL": Outcome.SKIPPED,
    "XPASS": Outcome.PASSED,
}

_UNITTEST_TEST = r"(?P<name>\S+) \((?P<where>[\w.]+)\)(?P<sub> \(.*?\))?"
_UNITTEST_LINE = re.compile(rf"^\s*{_UNITTEST_TEST}(?: \.\.\. (?P<status>.*))?$")
_UNITTEST_STATUS = re.compile(
    r"(?P<status>ok|FAIL|ERROR|skipped (?P<why>'.*'|\".*\")|expected failure|unexpected success)$"
)
_UNITTEST_BLOCK = re.compile(rf"^(?P<kind>FAIL|ERROR): {_UNITTEST_TEST}$")
_UNITTEST_STATUSES = {
    "ok": Outcome.PASSED,
    "FAIL": Outcome.FAILED,
    "ERROR": Outcome.ERROR,
    "expected failure": Outcome.SKIPPED,
    "unexpected success": Outcome.FAILED,
}


def shorten(text: str, limit: int = MESSAGE_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def parse_junit(xml_text: str, *, known_ids: Iterable[TestCase] = ()) -> list[TestCase]:
    """Cases from JUnit XML as pytest writes it; [] when it is not XML we accept.

    `known_ids` (cases read from pytest's summary) give the exact pytest ids; without one, an
    id is derived from the class name (`tests.test_x.TestA` + `test_y` ->
    `tests/test_x.py::TestA::test_y`).
    """
    if re.search(r"<!(DOCTYPE|ENTITY)", xml_text, re.IGNORECASE):
        return []  # no entity expansion from a file the repository's code could have written
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return []
    by_address = {_junit_address(case.id): case.id for case in known_ids}
    cases = []
    for element in root.iter("testcase"):
        classname, name = element.get("classname", ""), element.get("name", "")
        case_id = by_address.get((classname, name)) or _derive_id(classname, name)
        outcome, message = Outcome.PASSED, ""
        for child, child_outcome in (
            ("error", Outcome.ERROR),
            ("failure", Outcome.FAILED),
            ("skipped", Outcome.SKIPPED),
        ):
            found = element.find(child)
            if found is not None:
                outcome = child_outcome
                message = _junit_message(found)
                break
        cases.append(
            TestCase(
                id=case_id,
                outcome=outcome,
                duration=_float(element.get("time")),
                message=shorten(message),
            )
        )
    return _merge(cases)


def _junit_message(element: ET.Element) -> str:
    message = element.get("message") or (element.text or "").strip()
    if element.get("type") == "pytest.xfail":
        return f"xfail: {message}"
    if message == "collection failure":  # the reason is only in the text: its last `E` line
        reasons = [ln[1:].strip() for ln in (element.text or "").splitlines() if ln[:2] == "E "]
        return f"{message}: {reasons[-1]}" if reasons else message
    return message


def _junit_address(node_id: str) -> tuple[str, str]:
    """(classname, name) as pytest's junitxml writes them for a node id."""
    path, bracket, params = node_id.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


def _derive_id(classname: str, name: str) -> str:
    if not classname:  # a collection error: the name is the module
        return name.replace(".", "/") + ".py" if name else "<unnamed test>"
    parts = classname.split(".")
    first_class = next((i for i, p in enumerate(parts) if p[:1].isupper()), len(parts))
    module = "/".join(parts[:first_class]) + ".py"
    return "::".join([module, *parts[first_class:], name])


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def parse_pytest_text(output: str) -> list[TestCase]:
    """Cases from the `short test summary info` that pytest prints with `-rA`."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if _SUMMARY_HEADER.match(line)]
    if not starts:  # the header may have gone with the middle of a capped output
        starts = [i for i, line in enumerate(lines) if _TRUNCATED.match(line)]
    if not starts:
        return []
    cases = []
    for line in lines[starts[-1] + 1 :]:
        if match := _PYTEST_RESULT.match(line):
            word = match["word"]
            node_id, message = (
                _split_node_id(match["rest"]) if word != "PASSED" else (match["rest"], "")
            )
            if word in ("XFAIL", "XPASS"):
                message = f"{word.lower()}: {message}".rstrip(": ")
            cases.append(
                TestCase(id=node_id, outcome=_PYTEST_WORDS[word], message=shorten(message))
            )
        elif match := _PYTEST_SKIPPED.match(line):
            count = int(match["count"])
            for n in range(1, count + 1):
                suffix = f" ({n} of {count})" if count > 1 else ""
                cases.append(
                    TestCase(
                        id=match["where"] + suffix,
                        outcome=Outcome.SKIPPED,
                        message=shorten(match["message"]),
                    )
                )
    return _merge(cases)


def _split_node_id(rest: str) -> tuple[str, str]:
    """(node id, message) from `id - message` (or pytest 7's `id reason` after XPASS), where
    a parametrized id may itself hold spaces, ` - ` and brackets: prefer the split that leaves
    the id's brackets balanced."""
    bracket = rest.find("[")
    if bracket < 0 or bracket > rest.find(" ") >= 0:
        node_id, _, message = rest.partition(" ")
        return node_id, message.removeprefix("- ")
    candidates = [
        i + 1
        for i, char in enumerate(rest)
        if char == "]" and (i + 1 == len(rest) or rest[i + 1] == " ")
    ]
    if not candidates:
        return rest, ""
    balanced = [end for end in candidates if rest[:end].count("[") == rest[:end].count("]")]
    end = (balanced or candidates)[0]
    return rest[:end], rest[end:].strip().removeprefix("- ")


def parse_unittest_text(output: str) -> list[TestCase]:
    """Cases from `python -m unittest -v`: its per-test lines, then its FAIL/ERROR sections."""
    cases: dict[str, TestCase] = {}
    pending: str | None = None
    lines = output.splitlines()
    for line in lines:
        if line.startswith(("=" * 20, "-" * 20)):
            pending = None  # the listing is over; FAIL/ERROR sections follow
            continue
        if match := _UNITTEST_LINE.match(line):
            pending = _unittest_id(match["name"], match["where"], match["sub"])
            # the status may follow text the test itself printed to stderr: `... noiseok`
            status = _UNITTEST_STATUS.search(match["status"] or "")
        elif pending is not None:
            # the status on a later line: after a docstring line, or after printed text
            status = _UNITTEST_STATUS.fullmatch(line.rsplit(" ... ", 1)[-1].strip())
        else:
            continue
        if status and pending is not None:
            word = status["status"]
            outcome = Outcome.SKIPPED if word.startswith("skipped") else _UNITTEST_STATUSES[word]
            message = (status["why"] or "")[1:-1] or ("" if outcome is Outcome.PASSED else word)
            cases[pending] = TestCase(id=pending, outcome=outcome, message=shorten(message))
            pending = None
    for kind, case_id, message in _unittest_blocks(lines):
        outcome = Outcome.FAILED if kind == "FAIL" else Outcome.ERROR
        cases[case_id] = TestCase(id=case_id, outcome=outcome, message=shorten(message))
    return list(cases.values())


def _unittest_blocks(lines: list[str]) -> Iterable[tuple[str, str, str]]:
    """(FAIL or ERROR, id, exception text) for each section after the `====` rulers."""
    for i, line in enumerate(lines):
        match = _UNITTEST_BLOCK.match(line)
        if not (match and i > 0 and lines[i - 1].startswith("=" * 20)):
            continue
        body: list[str] = []
        for following in lines[i + 2 :]:
            if following.startswith(("=" * 20, "-" * 20)):
                break
            body.append(following)
        indented = [n for n, text in enumerate(body) if text.startswith(" ")]
        exception = body[indented[-1] + 1 :] if indented else body
        case_id = _unittest_id(match["name"], match["where"], match["sub"])
        yield match["kind"], case_id, "\n".join(exception).strip()


def _unittest_id(name: str, where: str, sub: str | None) -> str:
    """`pkg.mod.Class.test_x` from Python 3.11's `test_x (pkg.mod.Class.test_x)` or 3.10's
    `test_x (pkg.mod.Class)`, plus a subtest's parameters."""
    base = where if where.endswith("." + name) else f"{where}.{name}"
    return base + (sub or "")


def _merge(cases: list[TestCase]) -> list[TestCase]:
    """One case per id, keeping the worst outcome (a test that passed but errored in teardown
    is an error), in the order the ids first appeared."""
    merged: dict[str, TestCase] = {}
    for case in cases:
        old = merged.get(case.id)
        if old is None or _WORSE[case.outcome] > _WORSE[old.outcome]:
            if old is not None and case.duration is None:
                case = case.model_copy(update={"duration": old.duration})
            merged[case.id] = case
    return list(merged.values())
