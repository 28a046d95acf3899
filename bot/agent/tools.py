"""The agent's tools in OpenAI's tool-calling format, run in the sandbox.

Names and arguments are fixed: recorded trajectories depend on them.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from bot.agent.editor import Editor, EditorArgs, EditorError
from bot.agent.stops import Submitted
from bot.errors import ConfigError
from bot.sandbox.models import TestReport
from bot.sandbox.protocol import Sandbox
from bot.setup.paths import WORKSPACE


def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> Any:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


TOOL_SCHEMAS: list[dict[str, Any]] = [
    _tool(
        "bash",
        "Run a bash command in /workspace (the repository). No network. Long output is cut.",
        {"command": {"type": "string", "description": "The command to run."}},
        ["command"],
    ),
    _tool(
        "str_replace_editor",
        "View, create and edit files under /workspace. `view` shows a file with line numbers "
        "(or a directory listing); `create` writes a new file; `str_replace` replaces `old_str`, "
        "which must occur exactly once, with `new_str`; `insert` adds `new_str` after line "
        "`insert_line` (0 = top); `undo_edit` reverts the last edit of `path`.",
        {
            "command": {
                "type": "string",
                "enum": ["view", "create", "str_replace", "insert", "undo_edit"],
            },
            "path": {"type": "string", "description": "Path under /workspace."},
            "file_text": {"type": "string", "description": "Content for `create`."},
            "old_str": {"type": "string", "description": "Exact text to replace."},
            "new_str": {"type": "string", "description": "Replacement or inserted text."},
            "insert_line": {"type": "integer", "description": "Insert after this line."},
            "view_range": {
                "type": "array",
                "items": {"type": "integer"},
                "description": "[start, end] lines for `view`; end -1 means to the end.",
            },
        },
        ["command", "path"],
    ),
    _tool(
        "run_tests",
        "Run the repository's tests (all, or the given paths) and get per-test results.",
        {"paths": {"type": "array", "items": {"type": "string"}}},
        [],
    ),
    _tool(
        "finish",
        "Submit your change when the fix is complete. The tests are then run to verify it.",
        {"summary": {"type": "string", "description": "What you changed and why."}},
        ["summary"],
    ),
]
TOOL_NAMES = tuple(schema["function"]["name"] for schema in TOOL_SCHEMAS)


class ToolConfig(BaseModel):
    """How the tools behave."""

    bash_timeout: float = Field(default=120.0, gt=0)
    """Seconds one `bash` command may run before its process tree is killed."""
    test_timeout: float | None = Field(default=None, gt=0)
    """Seconds one `run_tests` may take; unset uses the sandbox's test timeout."""
    output_chars: int = Field(default=12_000, ge=500)
    """Characters of a tool's output the model sees; the middle of longer output is cut."""
    failures_shown: int = Field(default=20, ge=1)
    """Failing tests listed by `run_tests`, each with its message."""


class ToolResult(BaseModel):
    """What one tool call gave back to the model."""

    output: str
    error: bool = False
    """True when the call could not run (bad tool, bad arguments, editor refusal)."""
    duration: float = 0.0
    """Seconds the tool took."""


class BashArgs(BaseModel):
    command: str


class RunTestsArgs(BaseModel):
    paths: list[str] = Field(default_factory=list)


class FinishArgs(BaseModel):
    summary: str


def cap(text: str, limit: int) -> str:
    """`text`, with its middle cut out when longer than `limit` characters."""
    if len(text) <= limit:
        return text
    half = limit // 2
    cut = len(text) - 2 * half
    return f"{text[:half]}\n[... {cut} characters cut ...]\n{text[-half:]}"


def format_report(report: TestReport, failures_shown: int, tail_chars: int) -> str:
    """A test report as the compact JSON the model and humans read."""
    failing = [case for case in report.cases if case.outcome in ("failed", "error")]
    summary = {
        "summary": report.summary_line() + (" (timed out)" if report.timed_out else ""),
        "exit_code": report.exit_code,
        "failing": [
            {"id": case.id, "outcome": case.outcome.value, "message": case.message[:500]}
            for case in failing[:failures_shown]
        ],
        "output_tail": report.output_tail[-tail_chars:],
    }
    if len(failing) > failures_shown:
        summary["failing_not_shown"] = len(failing) - failures_shown
    return json.dumps(summary, indent=1)


_ARGUMENTS: dict[str, type[BaseModel]] = {
    "bash": BashArgs,
    "str_replace_editor": EditorArgs,
    "run_tests": RunTestsArgs,
    "finish": FinishArgs,
}


class ToolBox:
    """Parses a tool call, runs it in the sandbox, and says what came of it."""

    def __init__(self, sandbox: Sandbox, config: ToolConfig | None = None) -> None:
        self.sandbox = sandbox
        self.config = config or ToolConfig()
        self.editor = Editor(sandbox)
        self.schemas = TOOL_SCHEMAS

    async def run(self, name: str, arguments: str, call_id: str = "") -> ToolResult:
        """Run one call; `finish` raises `Submitted`. Bad calls come back as error results."""
        started = time.monotonic()
        try:
            output = await self._dispatch(name, arguments, call_id)
            error = False
        except (ToolCallError, EditorError) as problem:
            output, error = f"error: {problem}", True
        return ToolResult(
            output=cap(output, self.config.output_chars),
            error=error,
            duration=time.monotonic() - started,
        )

    async def _dispatch(self, name: str, arguments: str, call_id: str) -> str:
        if name not in TOOL_NAMES:
            raise ToolCallError(f"unknown tool {name!r}; the tools are {', '.join(TOOL_NAMES)}")
        try:
            raw = json.loads(arguments or "{}")
        except json.JSONDecodeError as error:
            raise ToolCallError(f"the arguments of {name} are not valid JSON ({error})") from error
        try:
            args = _ARGUMENTS[name].model_validate(raw)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in error.errors()
            )
            raise ToolCallError(f"bad arguments for {name}: {problems}") from error
        if isinstance(args, BashArgs):
            return await self.bash(args.command)
        if isinstance(args, EditorArgs):
            return await self.editor.run(args)
        if isinstance(args, RunTestsArgs):
            paths = [_relative(path) for path in args.paths]
            try:
                report = await self.sandbox.run_tests(paths, timeout=self.config.test_timeout)
            except ConfigError as error:
                raise ToolCallError(str(error)) from error
            return format_report(report, self.config.failures_shown, self.config.output_chars // 4)
        assert isinstance(args, FinishArgs)
        raise Submitted(args.summary, call_id)

    async def bash(self, command: str) -> str:
        result = await self.sandbox.exec(command, timeout=self.config.bash_timeout)
        parts = [result.stdout]
        if result.stderr:
            parts.append(f"[stderr]\n{result.stderr}")
        output = "\n".join(part.rstrip("\n") for part in parts if part)
        if result.timed_out:
            status = f"killed after {self.config.bash_timeout:g} s (timeout)"
        else:
            status = f"exit code {result.exit_code}"
        return f"{cap(output, self.config.output_chars - 100)}\n[{status}]".lstrip("\n")


def _relative(path: str) -> str:
    """A test path relative to the repository, as the test runner wants it."""
    if path == WORKSPACE:
        return "."
    return path.removeprefix(WORKSPACE + "/")


class ToolCallError(Exception):
    """A tool call the model got wrong; the message goes back to it."""
