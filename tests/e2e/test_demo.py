"""`patchbot demo` as a user runs it: every step of both runs said once, in order, in plain
text; a summary at the end; its runs kept apart from a deployment's data, shown by the exact
commands it prints, and removed by `demo --clean`. And the trace follower it prints with."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from bot.testing.demo import DEMO_FOLDER
from bot.testing.run_progress import TraceFollower, progress_text

ROOT = Path(__file__).resolve().parents[2]
PROGRESS = re.compile(r"^ +(\d+\.\d) s  (.+)$")
FIRST_RUN_STEPS = [
    "step 1  str_replace_editor  view /workspace/stats/__init__.py",
    "step 2  str_replace_editor  str_replace /workspace/stats/__init__.py",
    "step 3  str_replace_editor  str_replace tests/test_stats.py",
    "step 4  run_tests",
    "step 5  finish  median() now averages the two middle values of an even count; added t…",
]
REVISION_STEPS = [
    "step 1  str_replace_editor  str_replace /workspace/stats/__init__.py",
    "step 2  run_tests",
    "step 3  finish  1. Added a docstring to median() saying that an even count gives the …",
]


def own_environment(**settings: str) -> dict[str, str]:
    """This process's environment without Patchbot's settings, plus `settings`."""
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PATCHBOT_") and key != "DATABASE_URL"
    }
    return {**kept, **settings}


def patchbot(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def progress(part: str) -> list[tuple[float, str]]:
    found = (PROGRESS.match(line) for line in part.splitlines())
    return [(float(match[1]), match[2]) for match in found if match]


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.usefixtures("docker_ready")
def test_the_demo_says_every_step_sums_up_and_keeps_its_runs_apart(tmp_path: Path) -> None:
    deployment = tmp_path / "deployment"  # a user's real settings: the demo must not use them
    here = tmp_path / "here"
    here.mkdir()
    env = own_environment(
        DATABASE_URL=f"sqlite:///{deployment / 'patchbot.db'}",
        PATCHBOT_DATA_DIR=str(deployment / "data"),
    )
    done = patchbot("demo", cwd=here, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    first, revision = out.split("\n=== @maintainer reviews", 1)
    for part, steps in ((first, FIRST_RUN_STEPS), (revision, REVISION_STEPS)):
        lines = progress(part)
        texts = [text for _, text in lines]
        assert [text for text in texts if text.startswith("step ")] == steps
        assert [seconds for seconds, _ in lines] == sorted(seconds for seconds, _ in lines)
        assert len(set(texts)) == len(texts), texts  # nothing said twice
        for text in texts:  # plain text: no Markdown, no word said twice in a row
            assert not re.search(r"\*\*|`|^- \[", text), text
            assert not re.search(r"(?i)\b([a-z]+)[\s:,]+\1\b", text), text
    assert "baseline: 4 passed, 0 failed" in [text for _, text in progress(first)]
    assert any(text.startswith("pull request: http://") for _, text in progress(first))

    summary = out.rstrip().rsplit("\n\n", 1)[1]
    assert summary.startswith("Summary: in ") and "\n\n" not in summary
    flat = " ".join(summary.split())
    pull = re.search(r"pull request (http://\S+/pull/\d+)\.", flat)
    assert pull is not None, flat
    assert "Verdict: verified" in flat
    assert "tests proven by failing first: tests/test_stats.py::test_median_of_even_count" in flat
    assert "tests broken: none" in flat
    assert "Model cost of the demo: unknown (openai/scripted has no price" in flat

    assert not deployment.exists()  # the deployment's database and traces were not touched
    assert sorted(path.name for path in here.iterdir()) == [DEMO_FOLDER]
    commands = [line.strip() for line in out.splitlines() if line.startswith("  DATABASE_URL=")]
    assert len(commands) == 3  # runs list, runs show 1, runs show 2
    results = []
    for command in commands:
        words = shlex.split(command)
        settings = dict(word.split("=", 1) for word in words[:2])
        assert words[2:4] == [sys.executable, "-m"] and words[4] == "bot"
        results.append(patchbot(*words[5:], cwd=tmp_path, env=own_environment(**settings)))
    listed, shown_first, shown_revision = results
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert [(row[0], row[1], row[-2], row[-1]) for row in rows] == [
        ("2", "succeeded", "unknown", pull[1]),
        ("1", "succeeded", "unknown", pull[1]),
    ]
    for shown in (shown_first, shown_revision):
        assert shown.returncode == 0, shown.stderr
        assert f"pr_url: {pull[1]}" in shown.stdout and "  tool_call  " in shown.stdout
        assert "cost_usd: unknown" in shown.stdout

    [clean] = [line for line in out.splitlines() if line.startswith("remove them with: ")]
    assert clean.endswith(f"cd {here} && {sys.executable} -m bot demo --clean"), clean
    removed = patchbot("demo", "--clean", cwd=here, env=env)
    assert removed.returncode == 0 and f"removed {here / DEMO_FOLDER}" in removed.stdout
    assert list(here.iterdir()) == []
    again = patchbot("demo", "--clean", cwd=here, env=env)
    assert again.returncode == 0 and "nothing to remove" in again.stdout


@pytest.mark.parametrize("args", [(), ("--clean",)])
def test_a_folder_the_demo_did_not_make_is_left_alone(tmp_path: Path, args: tuple[str]) -> None:
    mine = tmp_path / DEMO_FOLDER
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")
    (mine / "README").write_text("My own notes on the demo.\n")
    done = patchbot("demo", *args, cwd=tmp_path, env=own_environment())
    assert done.returncode == 2
    assert "was not made by `patchbot demo`" in done.stderr and "Traceback" not in done.stderr
    assert (mine / "notes.txt").read_text() == "mine\n"


def test_the_follower_says_each_telling_event_once_and_waits_for_whole_lines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "1.jsonl"
    said: list[str] = []
    follower = TraceFollower(path, started=100.0, say=said.append)
    follower.poll()  # no trace yet: nothing to say
    call = {"kind": "tool_call", "step": 1}
    events = [
        {"ts": 100.5, "kind": "pipeline", "step": "cloned", "detail": "`main`"},
        {"ts": 101.0, "kind": "model_request", "step": 1},
        {**call, "ts": 101.2, "name": "bash", "arguments": '{"command": "ls"}'},
        {**call, "ts": 101.3, "call": 2, "name": "run_tests", "arguments": "{}"},
    ]
    text = "".join(json.dumps(event) + "\n" for event in events)
    with path.open("w") as trace:
        trace.write(text + '{"ts": 102.0, "kind": "pipeline", "step": "sol')
    follower.poll()
    assert said == [
        "   0.5 s  cloned main",
        "   1.2 s  step 1  bash  ls",
        "   1.3 s  step 1.2  run_tests",
    ]
    with path.open("a") as trace:
        trace.write('ved", "detail": "attempt 1 of 3 accepted"}\nnot json\n')
        trace.write(json.dumps({"ts": 103.0, "kind": "pull_request", "url": "http://x/pull/2"}))
        trace.write("\n")
    follower.poll()
    follower.poll()
    assert said[3:] == ["   3.0 s  pull request: http://x/pull/2"]  # `solved` repeats the verdict


def test_events_that_tell_nothing_new_are_not_said() -> None:
    assert progress_text({"kind": "model_response", "step": 1}) == ""
    assert progress_text({"kind": "agent_stop", "reason": "finished", "detail": "x"}) == ""
    assert progress_text({"kind": "verification", "attempt": 0, "reason": "accepted"}) == (
        "verification: accepted"
    )
    escalated = {"kind": "escalated", "reason": "step_limit", "detail": "step limit reached"}
    assert progress_text(escalated) == "escalated: step limit reached"
