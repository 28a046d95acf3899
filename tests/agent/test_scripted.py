"""The scripted model, reached the way the agent reaches any model: litellm over HTTP."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from bot.agent.model import LitellmModel, ModelConfig, ModelError
from bot.agent.scripted import ConversationScripts, ScriptedServer, load_trajectory
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = [{"role": "user", "content": "fix it"}]


def adapter(api_base: str) -> LitellmModel:
    return LitellmModel(ModelConfig(model="openai/scripted", api_base=api_base))


async def test_replies_come_in_order_with_tool_calls_and_usage(scripted) -> None:  # type: ignore[no-untyped-def]
    server = await scripted("fix_median")
    model = adapter(server.api_base)
    first = await model.complete(MESSAGES, [])
    second = await model.complete(MESSAGES, [])
    call = first.message["tool_calls"][0]
    assert call["function"]["name"] == "str_replace_editor"
    assert json.loads(call["function"]["arguments"])["command"] == "view"
    assert call["id"] and call["id"] != second.message["tool_calls"][0]["id"]
    assert first.usage.prompt_tokens > 0 and first.usage.completion_tokens > 0
    assert server.model.remaining == 3


async def test_an_exhausted_script_is_a_clear_error_that_is_not_retried(scripted) -> None:  # type: ignore[no-untyped-def]
    server = await scripted([{"role": "assistant", "content": "only one"}])
    model = adapter(server.api_base)
    await model.complete(MESSAGES, [])
    with pytest.raises(ModelError, match="trajectory is exhausted after 1 replies") as raised:
        await model.complete(MESSAGES, [])
    assert not raised.value.transient
    assert len(server.model.requests) == 2


def test_a_line_that_is_not_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"role": "assistant", "content": "ok"}\n\n{"role": \n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:3"):
        load_trajectory(path)


async def test_the_command_serves_a_trajectory_on_loopback() -> None:
    trajectory = ROOT / "bot" / "agent" / "trajectories" / "fix_median.jsonl"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "scripted-model",
        str(trajectory),
        "--port",
        "0",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        api_base = line.split(" at ")[1].strip()
        assert api_base.startswith("http://127.0.0.1:")
        reply = await adapter(api_base).complete(MESSAGES, [])
        assert reply.message["content"] == "I will read the median function first."
    finally:
        process.terminate()
        await process.wait()


async def test_conversations_each_follow_the_script_their_first_message_names() -> None:
    scripts = {
        "[a]": [{"role": "assistant", "content": f"a{n}"} for n in range(2)],
        "[b]": [{"role": "assistant", "content": "b0"}],
    }
    async with ScriptedServer(ConversationScripts(scripts)) as server:
        model = adapter(server.api_base)
        a = [{"role": "user", "content": "fix [a]"}]
        b = [{"role": "user", "content": "fix [b]"}]
        first_a = await model.complete(a, [])
        assert (await model.complete(b, [])).message["content"] == "b0"
        second_a = await model.complete([*a, first_a.message], [])
        assert (first_a.message["content"], second_a.message["content"]) == ("a0", "a1")
        # Started again from the beginning (a run taken over): answered from the start again.
        assert (await model.complete(a, [])).message["content"] == "a0"
        with pytest.raises(ModelError, match="names 0 of the scripts"):
            await model.complete([{"role": "user", "content": "fix it"}], [])
