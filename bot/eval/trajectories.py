"""Harness checks without a model: scripted trajectories built from a task.

`oracle` replays the real fix and its tests as the agent's edits; `tests-only` adds only the
tests. Each runs over the scripted OpenAI-compatible server, so the whole `solve` path (litellm,
the agent loop, the tools, verification) is exercised as with a real model.
"""

from __future__ import annotations

import hashlib
from typing import Any

from bot.eval.tasks import Task

SCRIPTED = ("oracle", "tests-only")
"""The `--model` names that replay a task instead of calling a model."""


def _apply(patch: str) -> dict[str, Any]:
    """A `bash` call applying `patch` in /workspace, the patch in a quoted here-document."""
    marker = "PATCHBOT_EOF_" + hashlib.sha256(patch.encode()).hexdigest()[:16]
    body = patch if patch.endswith("\n") else patch + "\n"
    command = (
        "cd /workspace && git -c safe.directory='*' apply --binary --whitespace=nowarn "
        f"<<'{marker}'\n{body}{marker}"
    )
    return {"name": "bash", "arguments": {"command": command}}


def _message(call: dict[str, Any]) -> dict[str, Any]:
    return {"content": None, "tool_calls": [{"function": call}]}


def trajectory(model: str, task: Task, attempts: int = 1) -> list[dict[str, Any]]:
    """The assistant messages `model` (one of `SCRIPTED`) answers the task with: its edits,
    then `finish`, submitted again after each rejection up to `attempts` candidates."""
    if model == "oracle":
        patches, summary = [task.patch, task.test_patch], "the commit's own fix and tests"
    elif model == "tests-only":
        patches, summary = [task.test_patch], "only the commit's tests, no fix"
    else:
        raise ValueError(f"{model!r} is not a scripted model ({', '.join(SCRIPTED)})")
    calls = [_apply(patch) for patch in patches if patch.strip()]
    calls += [{"name": "finish", "arguments": {"summary": summary}}] * max(1, attempts)
    return [_message(call) for call in calls]
