"""The model adapter against a real local HTTP server: what it retries, what it aborts, what
it counts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from bot.agent.model import LitellmModel, ModelConfig, ModelError, import_litellm

Server = Callable[[list[tuple[int, dict[str, Any]]]], Awaitable[tuple[str, list[dict[str, Any]]]]]


def completion(usage: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hello"},
                "finish_reason": "stop",
            }
        ],
        "usage": usage or {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500},
    }


def error(message: str, code: str = "error") -> dict[str, Any]:
    return {"error": {"message": message, "type": code, "code": code}}


@pytest.fixture
async def answering(aiohttp_server: Any) -> Server:
    """A chat-completions server answering with the given (status, body) pairs in order."""

    async def start(answers: list[tuple[int, dict[str, Any]]]) -> tuple[str, list[dict[str, Any]]]:
        received: list[dict[str, Any]] = []

        async def handle(request: web.Request) -> web.Response:
            received.append(await request.json())
            status, body = answers[min(len(received), len(answers)) - 1]
            headers = {"Retry-After": str(body.pop("retry_after"))} if "retry_after" in body else {}
            return web.json_response(body, status=status, headers=headers)

        app = web.Application()
        app.router.add_post("/v1/chat/completions", handle)
        server = await aiohttp_server(app, host="127.0.0.1")
        return f"http://127.0.0.1:{server.port}/v1", received

    return start


def model(api_base: str, name: str = "openai/scripted", retries: int = 3) -> LitellmModel:
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    adapter = LitellmModel(
        ModelConfig(model=name, api_base=api_base, max_retries=retries, backoff_initial=0.5),
        sleep=no_wait,
    )
    adapter.waits = waits  # type: ignore[attr-defined]
    return adapter


MESSAGES = [{"role": "user", "content": "hi"}]


async def test_rate_limits_and_server_errors_are_retried_with_growing_waits(
    answering: Server,
) -> None:
    base, received = await answering(
        [
            (429, error("slow down", "rate_limit_exceeded")),
            (503, error("busy")),
            (200, completion()),
        ]
    )
    adapter = model(base)
    reply = await adapter.complete(MESSAGES, [])
    assert reply.message["content"] == "hello"
    assert reply.attempts == 3
    assert len(received) == 3  # no hidden retries inside litellm or the OpenAI client
    first, second = adapter.waits  # type: ignore[attr-defined]
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0


async def test_a_retry_after_header_is_honoured_up_to_the_longest_wait(answering: Server) -> None:
    asks = [{**error("slow down", "rate_limit_exceeded"), "retry_after": n} for n in (7, 900)]
    base, _ = await answering([(429, asks[0]), (429, asks[1]), (200, completion())])
    adapter = model(base)
    await adapter.complete(MESSAGES, [])
    assert adapter.waits == [7.0, 30.0]  # type: ignore[attr-defined]


async def test_transient_errors_give_up_after_the_configured_retries(answering: Server) -> None:
    base, received = await answering([(500, error("boom"))])
    with pytest.raises(ModelError) as raised:
        await model(base, retries=2).complete(MESSAGES, [])
    assert raised.value.transient and raised.value.attempts == 3
    assert len(received) == 3
    assert "gave up after 3 attempts" in str(raised.value)


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, error("bad key", "invalid_api_key"), "AuthenticationError"),
        (
            400,
            error("This model's maximum context length is 8192 tokens", "context_length_exceeded"),
            "ContextWindowExceededError",
        ),
        (400, error("tools[0] is malformed", "invalid_request_error"), "BadRequestError"),
    ],
)
async def test_authentication_context_window_and_bad_requests_abort_at_once(
    answering: Server, status: int, body: dict[str, Any], kind: str
) -> None:
    base, received = await answering([(status, body), (200, completion())])
    with pytest.raises(ModelError) as raised:
        await model(base).complete(MESSAGES, [])
    assert raised.value.kind == kind and not raised.value.transient
    assert len(received) == 1


async def test_cost_comes_from_litellms_price_table(answering: Server) -> None:
    base, _ = await answering([(200, completion())])
    reply = await model(base, name="openai/gpt-4o-mini").complete(MESSAGES, [])
    price = import_litellm().model_cost["gpt-4o-mini"]
    expected = 1200 * price["input_cost_per_token"] + 300 * price["output_cost_per_token"]
    assert reply.usage.prompt_tokens == 1200 and reply.usage.completion_tokens == 300
    assert reply.usage.cost_usd == pytest.approx(expected)


async def test_an_unpriced_model_counts_tokens_and_marks_the_cost_unknown(
    answering: Server,
) -> None:
    base, _ = await answering([(200, completion())])
    reply = await model(base, name="openai/my-local-llama").complete(MESSAGES, [])
    assert reply.usage.prompt_tokens == 1200
    assert reply.usage.cost_usd is None


async def test_the_key_is_sent_to_the_server_and_never_kept_in_the_reply(
    aiohttp_server: Any,
) -> None:
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return web.json_response(completion())

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handle)
    server = await aiohttp_server(app, host="127.0.0.1")
    config = ModelConfig(
        model="openai/scripted",
        api_base=f"http://127.0.0.1:{server.port}/v1",
        api_key="sk-test-0123456789abcdefghij",  # type: ignore[arg-type]
    )
    reply = await LitellmModel(config).complete(MESSAGES, [])
    assert seen == ["Bearer sk-test-0123456789abcdefghij"]
    assert "sk-test" not in reply.model_dump_json()
    assert "sk-test" not in repr(config)


async def test_tokens_and_cost_are_counted_by_model(answering: Server, scrape: Any) -> None:
    """Two calls of a priced model and one of an unpriced one, as Prometheus reads them."""
    base, _ = await answering([(200, completion())])
    priced = model(base, name="openai/gpt-4o-mini")
    await priced.complete(MESSAGES, [])
    await priced.complete(MESSAGES, [])
    await model(base).complete(MESSAGES, [])
    priced_name, unpriced_name = "openai/gpt-4o-mini", "openai/scripted"
    assert scrape.value("patchbot_model_calls_total", model=priced_name) == 2
    assert scrape.value("patchbot_model_tokens_total", model=priced_name, type="input") == 2400
    assert scrape.value("patchbot_model_tokens_total", model=priced_name, type="output") == 600
    cost = scrape.value("patchbot_model_cost_usd_total", model=priced_name)
    assert cost == pytest.approx(2 * priced.cost(1200, 300))
    assert cost is not None and cost > 0
    assert scrape.value("patchbot_model_unpriced_calls_total", model=unpriced_name) == 1
    assert scrape.value("patchbot_model_cost_usd_total", model=unpriced_name) is None
