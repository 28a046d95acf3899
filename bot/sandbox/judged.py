"""Test runs judged by Patchbot's own pytest plugin (bot/sandbox/judge/), not by a report file
the code under test could write: the command that runs it, and the records it signed."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from bot.sandbox.models import Outcome, TestCase
from bot.sandbox.report_parsing import shorten

JUDGE_SOURCE = Path(__file__).parent / "judge"
"""Host folder mounted read-only into every sandbox at `JUDGE_DIR`."""
JUDGE_DIR = "/opt/patchbot-judge"
RECORDS_PATH = "/tmp/patchbot-judge.jsonl"


class JudgeRecords(BaseModel):
    """What the judge's signed records say about one run."""

    cases: list[TestCase] = Field(default_factory=list)
    """Every test's signed record; with a `problem`, those signed before the run was cut
    short (kept for a run that timed out), or none."""
    problem: str = ""
    """Why the records cannot be trusted (forged, cut short, missing), or ""."""
    tampered: list[str] = Field(default_factory=list)
    """Hooks the judge saw registered while the tests ran."""


def new_key() -> str:
    return secrets.token_hex(32)


def judged_command(env: Mapping[str, str], options: str) -> str:
    """The command that runs the judge for a pytest plan's environment `env` and `options`.
    What differs from run to run (the key, the tests selected, reruns) reaches the judge on
    stdin (`start`), so a judge started ahead serves the next run whichever tests it selects.

    Its interpreter starts without PYTHONPATH, which holds the checkout (see the judge); our
    variables come after the plan's, so no test configuration sets them."""
    assignments = "".join(f"{key}={shlex.quote(value)} " for key, value in env.items())
    return (
        f"exec env -u PYTEST_ADDOPTS -u PYTEST_PLUGINS -u PYTHONPATH {assignments}"
        f"PATCHBOT_JUDGE_OUT={shlex.quote(RECORDS_PATH)} "
        f'PATCHBOT_JUDGE_PATH="${{PYTHONPATH-}}" '
        f"python {JUDGE_DIR}/patchbot_judge.py --continue-on-collection-errors {options}"
    )


def start(key: str, args: Sequence[str] = (), reruns: int = 0) -> str:
    """What starts a judged run, on the judge's stdin: the key its records are signed with, the
    tests it selects, and how often a failing test runs again in the same process."""
    return json.dumps({"key": key, "args": list(args), "reruns": int(reruns)})


def read_records(text: str | None, key: str) -> JudgeRecords:
    """The cases of a run, if every record is signed with `key`, in order, and closed."""
    if not text:
        return JudgeRecords(problem="the judge wrote no record (the run ended before pytest did)")
    cases: list[TestCase] = []
    ended: dict[str, object] | None = None
    for seq, line in enumerate(text.splitlines()):
        try:
            wrapper = json.loads(line)
            body = wrapper["body"]
            mac = hmac.new(key.encode(), f"{seq}\n{body}".encode(), hashlib.sha256).hexdigest()
            if wrapper.get("seq") != seq or not hmac.compare_digest(mac, str(wrapper["mac"])):
                return JudgeRecords(problem=f"record {seq + 1} of the judge's report is forged")
            record = json.loads(body)
        except (ValueError, KeyError, TypeError):
            return JudgeRecords(problem=f"record {seq + 1} of the judge's report is not its own")
        if ended is not None:
            return JudgeRecords(problem="records were written after the judge's last one")
        if record.get("end"):
            ended = record
            continue
        try:
            cases.append(
                TestCase(
                    id=record["id"],
                    outcome=Outcome(record["outcome"]),
                    duration=float(record.get("duration", 0.0)),
                    message=shorten(str(record.get("message", ""))),
                )
            )
        except (KeyError, ValueError, ValidationError):
            return JudgeRecords(problem=f"record {seq + 1} of the judge's report is malformed")
    if ended is None:
        problem = "the judge's report has no closing record: pytest was cut short"
        return JudgeRecords(cases=cases, problem=problem)
    tampered = [str(item) for item in ended.get("tampered") or []]  # type: ignore[attr-defined]
    return JudgeRecords(cases=cases, tampered=tampered)
