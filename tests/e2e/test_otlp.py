"""A run exported as OpenTelemetry spans to a real OTLP/HTTP receiver on loopback (protobuf
decoded with opentelemetry-proto): run → steps → model, tool and GitHub calls, the GenAI
attributes, one trace whose id the worker's log lines carry."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from bot.logs import LineFormatter
from bot.runs.models import RunState
from bot.testing.loopback import served
from bot.testing.stack import MAINTAINER
from bot.trace import Redactor
from tests.e2e.conftest import REPOSITORY, StartStack, eventually

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("docker_ready")]


@contextlib.asynccontextmanager
async def otlp_receiver() -> AsyncIterator[tuple[str, list[Any]]]:
    """An OTLP/HTTP trace receiver; (its base URL, the spans received so far)."""
    spans: list[Any] = []

    async def receive(request: web.Request) -> web.Response:
        assert request.headers["Content-Type"] == "application/x-protobuf"
        exported = ExportTraceServiceRequest()
        exported.ParseFromString(await request.read())
        for resource in exported.resource_spans:
            for scope in resource.scope_spans:
                spans.extend(scope.spans)
        answer = ExportTraceServiceResponse().SerializeToString()
        return web.Response(body=answer, content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", receive)
    async with served(app) as url:
        yield url, spans


@contextlib.contextmanager
def json_logs() -> Iterator[io.StringIO]:
    """The process's log lines, as `LOG_FORMAT=json` writes them, while the block runs."""
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(LineFormatter(Redactor(), as_json=True, tracebacks=False))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def attributes(span: Any) -> dict[str, Any]:
    found = {}
    for item in span.attributes:
        value = item.value
        found[item.key] = getattr(value, value.WhichOneof("value"))
    return found


async def test_a_run_is_exported_as_spans_with_genai_attributes(start_stack: StartStack) -> None:
    async with otlp_receiver() as (endpoint, spans):
        with json_logs() as logs:
            environment = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
            stack, number = await start_stack("fix_median", environment=environment)
            await stack.github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
            run = await stack.finished_run(REPOSITORY, number, timeout=180)
            assert run.state is RunState.SUCCEEDED, run.summary

            def exported() -> bool:
                return any(span.name == "run" for span in spans)

            await eventually(exported, "the run's spans at the receiver", timeout=30)

    (root,) = [span for span in spans if span.name == "run"]
    assert root.parent_span_id == b""
    assert attributes(root)["patchbot.run.id"] == run.id
    assert attributes(root)["patchbot.run.state"] == "succeeded"
    assert {span.trace_id for span in spans} == {root.trace_id}

    steps = {span.span_id: span for span in spans if span.parent_span_id == root.span_id}
    names = [span.name for span in sorted(steps.values(), key=lambda s: s.start_time_unix_nano)]
    for step in ("cloned", "setup", "baseline", "agent", "verification", "solved", "pushed"):
        assert f"step {step}" in names, names
    assert names[-1] == "step finish"
    calls = [span for span in spans if span.parent_span_id in steps]
    assert len(spans) == 1 + len(steps) + len(calls)  # nothing hangs outside the tree

    chats = [span for span in calls if span.name == "chat scripted"]
    assert len(chats) == len(stack.model.model.requests)
    for chat in chats:
        assert steps[chat.parent_span_id].name == "step agent"
        found = attributes(chat)
        assert found["gen_ai.operation.name"] == "chat"
        assert (found["gen_ai.system"], found["gen_ai.request.model"]) == ("openai", "scripted")
        assert found["gen_ai.usage.input_tokens"] > 0 and found["gen_ai.usage.output_tokens"] > 0
        assert chat.start_time_unix_nano <= chat.end_time_unix_nano
    tools = [span for span in calls if span.name.startswith("execute_tool ")]
    assert tools and all(steps[tool.parent_span_id].name == "step agent" for tool in tools)
    assert {attributes(tool)["gen_ai.tool.name"] for tool in tools} >= {"finish"}
    pulls = [span for span in calls if span.name == f"POST /repos/{REPOSITORY}/pulls"]
    assert len(pulls) == 1 and attributes(pulls[0])["http.response.status_code"] == 201

    trace_id = root.trace_id.hex()
    about_run = [json.loads(line) for line in logs.getvalue().splitlines()]
    about_run = [line for line in about_run if line.get("run_id") == run.id]
    assert about_run and all(line.get("trace_id") == trace_id for line in about_run)
