"""Test runs judged by Patchbot's own pytest plugin (bot/sandbox/judge/), not by a report file
the code under test could write: the command that runs it, and the records it signed."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import shlex
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from bot.sandbox.models import Outcome, TestCase
from bot.sandbox.report_parsing import shorten

JUDGE_SOURCE = Path(__file__).parent / "judge"
"""Host folder mounted read-only into every sandbox at `JUDGE_DIR`."""
JUDGE_DIR = "/opt/patchbot-judge"
RECORDS_PATH = "/tmp/patchbot-judge.jsonl"
_PYTEST = "python -m pytest"
_KEY_END = "PATCHBOT_JUDGE_KEY"


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


def judged_command(command: str, key: str, reruns: int = 0) -> str:
    """`command` (a pytest plan's) run by the judge: the key reaches it on fd 3 only, through a
    here-doc, and `exec` leaves no shell whose arguments hold it. A failing test runs again
    `reruns` times in the same process."""
    if _PYTEST not in command:
        raise ValueError(f"not a pytest command: {command}")
    runner = f"python {JUDGE_DIR}/patchbot_judge.py --continue-on-collection-errors"
    body = command.replace(_PYTEST, runner, 1)
    out = shlex.quote(RECORDS_PATH)
    return (
        f"rm -f {out}; exec env -u PYTEST_ADDOPTS -u PYTEST_PLUGINS PATCHBOT_JUDGE_OUT={out} "
        f"PATCHBOT_JUDGE_RERUNS={int(reruns)} "
        f"{body} 3<<'{_KEY_END}'\n{key}\n{_KEY_END}"
    )


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
