"""A run attempt as OpenTelemetry spans, sent over OTLP/HTTP: `run` → `step NAME` → `chat
MODEL` / `execute_tool NAME` / `METHOD /path` (GitHub), with the GenAI semantic conventions
on model and tool calls. The SDK is imported only by a process that exports (one whose
`OTEL_EXPORTER_OTLP_ENDPOINT` is set); headers, timeout and TLS come from the SDK's own
`OTEL_EXPORTER_OTLP_*` variables."""

from __future__ import annotations

from typing import Any

from bot.telemetry.timeline import Call, Step

_providers: dict[str, Any] = {}
"""One tracer provider (and its batching exporter thread) per endpoint, for the process."""


def _tracer(endpoint: str) -> Any:
    if endpoint not in _providers:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=Resource.create({"service.name": "patchbot"}))
        exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
        _providers[endpoint] = provider
    return _providers[endpoint].get_tracer("patchbot")


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


class RunSpans:
    """The `run` span starts with the attempt (so that its trace id is in the logs from the
    first line); its children are made from the attempt's timeline at its end."""

    def __init__(self, endpoint: str, started: float, attributes: dict[str, Any]) -> None:
        from opentelemetry import trace

        self._trace = trace
        self._tracer = _tracer(endpoint)
        self._root = self._tracer.start_span("run", start_time=_ns(started), attributes=attributes)

    @property
    def trace_id(self) -> str:
        """The trace id as 32 hex digits, as tracing back ends show it."""
        return f"{self._root.get_span_context().trace_id:032x}"

    def end(self, steps: list[Step], state: str, ended: float) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        trace, tracer = self._trace, self._tracer
        for step in steps:
            span = tracer.start_span(
                f"step {step.name}",
                context=trace.set_span_in_context(self._root),
                start_time=_ns(step.start),
                attributes={"patchbot.step": step.name},
            )
            inside = trace.set_span_in_context(span)
            for call in step.calls:
                kind = SpanKind.INTERNAL if call.kind == "tool" else SpanKind.CLIENT
                child = tracer.start_span(
                    _name(call),
                    context=inside,
                    kind=kind,
                    start_time=_ns(call.start),
                    attributes=_attributes(call),
                )
                if call.error:
                    child.set_status(Status(StatusCode.ERROR, call.error))
                child.end(end_time=_ns(max(call.end, call.start)))
            span.end(end_time=_ns(step.end))
        self._root.set_attribute("patchbot.run.state", state)
        if state == "failed":
            self._root.set_status(Status(StatusCode.ERROR, "the run failed"))
        self._root.end(end_time=_ns(ended))


def _provider_and_model(model: str) -> tuple[str, str]:
    """litellm's `provider/name` as (gen_ai.system, gen_ai.request.model)."""
    provider, slash, name = model.partition("/")
    return (provider, name) if slash else ("unknown", model)


def _name(call: Call) -> str:
    if call.kind == "model":
        return f"chat {_provider_and_model(call.name)[1]}"
    if call.kind == "tool":
        return f"execute_tool {call.name}"
    return call.name  # GitHub: METHOD /path


def _attributes(call: Call) -> dict[str, Any]:
    found = call.attributes
    if call.kind == "model":
        system, model = _provider_and_model(call.name)
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": system,
            "gen_ai.provider.name": system,
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": int(found.get("input_tokens") or 0),
            "gen_ai.usage.output_tokens": int(found.get("output_tokens") or 0),
        }
        if found.get("cost_usd") is not None:
            attributes["patchbot.cost_usd"] = float(found["cost_usd"])
        return attributes
    if call.kind == "tool":
        return {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": str(found.get("call_id") or ""),
        }
    method, _, path = call.name.partition(" ")
    attributes = {"http.request.method": method, "url.path": path}
    if isinstance(found.get("status"), int):
        attributes["http.response.status_code"] = found["status"]
    return attributes
