"""The agent loop: ask the model, run the tools it calls, until it finishes or a limit stops it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, model_validator

from bot.agent.limits import AgentLimits
from bot.agent.model import Model, ModelError, ModelReply
from bot.agent.stops import AgentStop, LimitReached, ModelFailed, StopReason, Submitted
from bot.agent.tools import ToolBox
from bot.console import cost_text
from bot.trace import Trace


class ProgressEvent(BaseModel):
    """One line of progress for a human watching the run, plain text (no Markdown)."""

    step: int
    """The agent's step (model call) it belongs to; 0 before the agent's first step."""
    text: str
    """The line: for a step, `step N  TOOL  ARGUMENT` (`step_line`), said as the step starts."""
    tool: str = ""
    """The tool, when the event is a tool call; empty otherwise (the baseline, a verdict)."""
    cost: str = ""
    """The model's cost so far (`AgentStats.cost_text`), once the agent has started."""


Progress = Callable[[ProgressEvent], None]


def progress_line(elapsed: float, text: str) -> str:
    """A progress line for a terminal: the seconds since the start, then what happens. A
    character the terminal would act on (an escape sequence in model output) shows as `?`."""
    shown = "".join(char if char.isprintable() else "?" for char in text)
    return f"{elapsed:6.1f} s  {shown}"


class AgentStats(BaseModel):
    """What a run used so far."""

    steps: int = 0
    """Model calls made."""
    tool_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    """US dollars the model calls cost; None (unknown) once one had no price in litellm's
    table: an unpriced call is never counted as free."""
    unpriced_calls: int = 0
    """Calls whose cost litellm's price table does not know."""
    model_seconds: float = 0.0
    tool_seconds: float = 0.0

    @model_validator(mode="after")
    def _unknown_once_unpriced(self) -> AgentStats:
        if self.unpriced_calls:
            self.cost_usd = None
        return self

    def cost_text(self) -> str:
        known = self.cost_usd is not None
        return cost_text(self.cost_usd) + ("" if known else " (model not in price table)")


class AgentOutcome(BaseModel):
    """How one stretch of the loop ended."""

    reason: StopReason
    detail: str
    summary: str = ""
    """The agent's `finish` summary, when it finished."""


def short_argument(arguments: str, limit: int = 70) -> str:
    """A tool call's arguments on one line: the editor's action and path, a command, a summary."""
    try:
        value: Any = json.loads(arguments)
    except json.JSONDecodeError:
        value = arguments
    if isinstance(value, dict) and "path" in value:
        value = f"{value.get('command') or ''} {value['path']}"
    elif isinstance(value, dict):
        value = " ".join(_words(item) for item in value.values())
    text = " ".join(_words(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _words(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(_words(item) for item in value)
    return str(value)


def step_line(step: int, tool: str, arguments: str, call: int = 1) -> str:
    """A step as one plain line, `step 3  bash  pytest -x`; a later call of the same step
    (a reply with several tool calls) is `step 3.2`."""
    label = f"step {step}" if call == 1 else f"step {step}.{call}"
    return "  ".join(part for part in (label, tool or "?", short_argument(arguments)) if part)


class Agent:
    """One conversation with the model; `run` drives it, `resume` continues after feedback."""

    def __init__(
        self,
        model: Model,
        tools: ToolBox,
        limits: AgentLimits,
        trace: Trace,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model = model
        self.tools = tools
        self.limits = limits
        self.trace = trace
        self.progress = progress
        self.clock = clock
        self.started = clock()
        self.stats = AgentStats()
        self.messages: list[dict[str, Any]] = []
        self._sent = 0
        self._open_finish: str | None = None

    def start(self, system: str, task: str) -> None:
        self.messages = [{"role": "system", "content": system}, {"role": "user", "content": task}]

    def resume(self, feedback: str) -> None:
        """Continue after `finish` (or a stop) with `feedback` as the answer to it."""
        if self._open_finish is not None:
            self.messages.append(
                {"role": "tool", "tool_call_id": self._open_finish, "content": feedback}
            )
            self._open_finish = None
        else:
            self.messages.append({"role": "user", "content": feedback})

    async def run(self) -> AgentOutcome:
        """Step until a stop condition; every way out is caught here and becomes the outcome."""
        outcome: AgentOutcome | None = None
        try:
            while True:
                await self.step()
        except Submitted as done:
            self._open_finish = done.call_id
            outcome = AgentOutcome(
                reason=StopReason.FINISHED, detail=str(done), summary=done.summary
            )
        except LimitReached as limit:
            outcome = AgentOutcome(reason=limit.reason, detail=str(limit))
        except ModelFailed as failed:
            outcome = AgentOutcome(reason=StopReason.MODEL_ERROR, detail=str(failed))
        finally:
            self.trace.event(
                "agent_stop",
                reason=outcome.reason.value if outcome else "interrupted",
                detail=outcome.detail if outcome else "the run was interrupted",
                **self.stats.model_dump(),
            )
        return outcome

    def check_limits(self) -> None:
        limits, stats = self.limits, self.stats
        if stats.steps >= limits.max_steps:
            raise LimitReached(StopReason.STEP_LIMIT, limits.max_steps, stats.steps)
        if limits.cost_limit and stats.cost_usd is not None and stats.cost_usd >= limits.cost_limit:
            raise LimitReached(StopReason.COST_LIMIT, limits.cost_limit, stats.cost_usd)
        elapsed = self.clock() - self.started
        if elapsed >= limits.time_limit:
            raise LimitReached(StopReason.TIME_LIMIT, limits.time_limit, elapsed)

    async def step(self) -> None:
        self.check_limits()
        reply = await self._ask()
        message = reply.message
        self.messages.append(message)
        calls = message.get("tool_calls") or []
        if not calls:
            self._say(f"step {self.stats.steps}  no tool call: the model was asked for one")
            self.messages.append(
                {
                    "role": "user",
                    "content": "Reply with a tool call. Call `finish` when the fix is done.",
                }
            )
            return
        for index, call in enumerate(calls):
            try:
                await self._call_tool(call, index + 1)
            except Submitted:
                for skipped in calls[index + 1 :]:
                    self._answer(skipped.get("id", ""), "not run: `finish` was called before it")
                raise

    async def _ask(self) -> ModelReply:
        self.trace.event(
            "model_request",
            step=self.stats.steps + 1,
            message_count=len(self.messages),
            new_messages=self.messages[self._sent :],
        )
        self._sent = len(self.messages)
        remaining = self.limits.time_limit - (self.clock() - self.started)
        try:
            reply = await asyncio.wait_for(
                self.model.complete(self.messages, self.tools.schemas), timeout=remaining
            )
        except TimeoutError:
            elapsed = self.clock() - self.started
            raise LimitReached(StopReason.TIME_LIMIT, self.limits.time_limit, elapsed) from None
        except ModelError as error:
            self.trace.event("model_error", error_kind=error.kind, error=str(error))
            raise ModelFailed(str(error)) from error
        stats = self.stats
        stats.steps += 1
        stats.prompt_tokens += reply.usage.prompt_tokens
        stats.completion_tokens += reply.usage.completion_tokens
        if reply.usage.cost_usd is None:
            stats.unpriced_calls += 1
            stats.cost_usd = None
            if stats.unpriced_calls == 1 and self.limits.cost_limit:
                self.trace.event("cost_unknown", step=stats.steps)
                self._say(
                    "cost unknown: the model has no price in litellm's table, so the cost "
                    "limit is not enforced"
                )
        elif stats.cost_usd is not None:
            stats.cost_usd += reply.usage.cost_usd
        stats.model_seconds += reply.latency
        self.trace.event(
            "model_response",
            step=stats.steps,
            message=reply.message,
            usage=reply.usage.model_dump(),
            latency=round(reply.latency, 4),
            attempts=reply.attempts,
        )
        self._sent += 1  # the reply itself is in the trace already
        return reply

    async def _call_tool(self, call: dict[str, Any], number: int) -> None:
        function = call.get("function") or {}
        name = str(function.get("name", ""))
        arguments = function.get("arguments") or ""
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        call_id = str(call.get("id", ""))
        step = self.stats.steps
        self.stats.tool_calls += 1
        self.trace.event(
            "tool_call", step=step, call=number, id=call_id, name=name, arguments=arguments
        )
        self._say(step_line(step, name, arguments, number), tool=name or "?")
        try:
            result = await self.tools.run(name, arguments, call_id)
        except Submitted:
            self.trace.event("tool_result", step=step, id=call_id, name=name, finish=True)
            raise
        self.stats.tool_seconds += result.duration
        self.trace.event(
            "tool_result",
            step=self.stats.steps,
            id=call_id,
            name=name,
            error=result.error,
            duration=round(result.duration, 4),
            output=result.output,
        )
        self._answer(call_id, result.output)

    def _answer(self, call_id: str, content: str) -> None:
        self.messages.append({"role": "tool", "tool_call_id": call_id, "content": content})

    def _say(self, text: str, tool: str = "") -> None:
        if self.progress is not None:
            cost = self.stats.cost_text()
            self.progress(ProgressEvent(step=self.stats.steps, text=text, tool=tool, cost=cost))


__all__ = ["Agent", "AgentOutcome", "AgentStats", "AgentStop", "ProgressEvent"]
