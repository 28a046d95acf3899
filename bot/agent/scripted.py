"""The scripted model: an OpenAI chat-completions server on loopback that replays a trajectory.

A trajectory is a JSON-lines file with one assistant chat message a line. Each request gets the
next line, so litellm and the whole agent run over real HTTP without a real model. A line may
carry `usage` ({prompt_tokens, completion_tokens}) to override the estimated token counts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.errors import ConfigError

EXHAUSTED = "script_exhausted"


def load_trajectory(path: Path) -> list[dict[str, Any]]:
    """The assistant messages of a trajectory file; blank lines and `//` comments are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ConfigError(f"cannot read trajectory {path}: {error.strerror}") from error
    messages = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path}:{number}: not a JSON chat message: {error}") from error
        if not isinstance(message, dict):
            raise ConfigError(f"{path}:{number}: expected a JSON object (one chat message)")
        messages.append(message)
    return messages


def _normalize(message: dict[str, Any], number: int) -> dict[str, Any]:
    """Fill in what OpenAI's format requires and the file may leave out."""
    message = {"role": "assistant", "content": None, **json.loads(json.dumps(message))}
    for index, call in enumerate(message.get("tool_calls") or []):
        call.setdefault("id", f"call_{number}_{index}")
        call.setdefault("type", "function")
        arguments = call.get("function", {}).get("arguments")
        if not isinstance(arguments, str):  # a JSON value, written as one for readability
            call["function"]["arguments"] = json.dumps(arguments)
    return message


def _estimate_tokens(value: Any) -> int:
    return max(1, len(json.dumps(value)) // 4)


class ScriptedModel:
    """Answers chat-completion requests with the script's messages, in order."""

    def __init__(self, messages: list[dict[str, Any]], name: str = "scripted") -> None:
        self.messages = [_normalize(message, n) for n, message in enumerate(messages, start=1)]
        self.name = name
        self.requests: list[dict[str, Any]] = []
        """Every request body received, for tests to inspect."""
        self.authorizations: list[str | None] = []
        """The `Authorization` header of each request: which key the caller sent."""

    @property
    def remaining(self) -> int:
        return len(self.messages) - len(self.requests)

    async def chat_completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        index = len(self.requests)
        self.requests.append(body)
        self.authorizations.append(request.headers.get("Authorization"))
        return _answer(self.messages, index, body, self.name)

    def app(self) -> web.Application:
        return _app(self.chat_completions)


class ConversationScripts:
    """Answers many conversations at once, each from its own script: the script whose key
    appears in the conversation's first user message (the issue's text), at the step given by
    the assistant messages the conversation already holds. A conversation started again from
    the beginning (a run taken over from a killed worker) is answered from the start again."""

    def __init__(self, scripts: dict[str, list[dict[str, Any]]], name: str = "scripted") -> None:
        self.scripts = {
            key: [_normalize(message, n) for n, message in enumerate(messages, start=1)]
            for key, messages in scripts.items()
        }
        self.name = name
        self.requests: list[dict[str, Any]] = []
        """Every request body received, for tests to inspect."""

    async def chat_completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        messages = body.get("messages") or []
        first = next((m.get("content") for m in messages if m.get("role") == "user"), None)
        keys = [key for key in self.scripts if key in str(first)]
        if len(keys) != 1:
            return _refusal(
                f"the conversation's first user message names {len(keys)} of the scripts "
                f"{sorted(self.scripts)}; it must name exactly one"
            )
        step = sum(1 for m in messages if m.get("role") == "assistant")
        return _answer(self.scripts[keys[0]], step, body, self.name)

    def app(self) -> web.Application:
        return _app(self.chat_completions)


def _app(handler: Any) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", handler)
    app.router.add_post("/chat/completions", handler)
    return app


def _refusal(message: str) -> web.Response:
    """The error a request with no scripted answer gets (litellm raises it, the run stops)."""
    error = {"message": message, "type": "invalid_request_error", "code": EXHAUSTED}
    return web.json_response({"error": error}, status=400)


def _answer(
    messages: list[dict[str, Any]], index: int, body: dict[str, Any], name: str
) -> web.Response:
    """The chat completion answering `body` with `messages[index]`, or an error past the end."""
    if index >= len(messages):
        return _refusal(
            f"the scripted model's trajectory is exhausted after {len(messages)} replies; "
            f"request {index + 1} has no scripted answer"
        )
    script = dict(messages[index])
    usage = script.pop("usage", None) or {}
    prompt = int(usage.get("prompt_tokens", _estimate_tokens(body.get("messages", []))))
    completion = int(usage.get("completion_tokens", _estimate_tokens(script)))
    tool_calls = script.get("tool_calls")
    return web.json_response(
        {
            "id": f"chatcmpl-scripted-{index + 1}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", name),
            "choices": [
                {
                    "index": 0,
                    "message": script,
                    "finish_reason": "tool_calls" if tool_calls else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }
    )


class ScriptedServer:
    """Runs a `ScriptedModel` (or `ConversationScripts`) on `host` (loopback unless a test's
    containers must reach it); `async with` gives its `api_base`."""

    def __init__(
        self, model: ScriptedModel | ConversationScripts, port: int = 0, host: str = "127.0.0.1"
    ) -> None:
        self.model = model
        self.port = port
        self.host = host
        self._runner: web.AppRunner | None = None

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.model.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        if self.port == 0 and server is not None:
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ScriptedServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
