"""The model adapter: one chat-completions call through litellm, retried only when transient."""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, Field, SecretStr

from bot.errors import ConfigError, PatchbotError
from bot.telemetry.metrics import process_metrics

if TYPE_CHECKING:
    from bot.settings import Settings


class ModelError(PatchbotError, RuntimeError):
    """The model could not be called; `transient` says whether retrying might have helped."""

    def __init__(self, message: str, *, kind: str, transient: bool, attempts: int = 1) -> None:
        super().__init__(message)
        self.kind = kind
        """The litellm error class name, e.g. `AuthenticationError`."""
        self.transient = transient
        self.attempts = attempts


class ModelConfig(BaseModel):
    """Which model to call and how hard to try."""

    model: str
    """Any litellm model string, e.g. `openai/gpt-4o-mini` or `anthropic/claude-sonnet-4-5`."""
    api_base: str | None = None
    """Base URL of an OpenAI-compatible server, e.g. `http://127.0.0.1:8001/v1`."""
    api_key: SecretStr | None = None
    """Key for the model provider; unset lets litellm read the provider's usual variable."""
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    """Sampling temperature; 0 keeps runs as repeatable as the provider allows."""
    max_output_tokens: int = Field(default=4096, ge=1)
    """Most tokens the model may write in one reply."""
    request_timeout: float = Field(default=300.0, gt=0)
    """Seconds one request may take before it counts as a (transient) timeout."""
    max_retries: int = Field(default=4, ge=0)
    """Retries of one call after transient errors (rate limit, timeout, connection, 5xx)."""
    backoff_initial: float = Field(default=1.0, ge=0)
    """Seconds before the first retry; doubles each retry, with jitter."""
    backoff_max: float = Field(default=30.0, ge=0)
    """Longest wait between two retries, in seconds."""


def configured_model(
    settings: Settings, *, model: str | None = None, api_base: str | None = None
) -> ModelConfig:
    """The model every entry point (serve, worker, solve) calls: a command's flags where
    given, else the environment's `PATCHBOT_MODEL`, `PATCHBOT_MODEL_API_BASE` and
    `PATCHBOT_MODEL_API_KEY`. Raises ConfigError naming the fix."""
    from bot.settings import http_url

    name = (model if model is not None else settings.model).strip()
    if not name:
        raise ConfigError("no model: pass --model (a litellm model string) or set PATCHBOT_MODEL")
    try:
        base = http_url(api_base) if api_base else settings.model_api_base
    except ValueError as error:
        example = "e.g. http://127.0.0.1:8001/v1"
        raise ConfigError(f"--api-base {api_base}: {error}, {example}") from error
    return ModelConfig(model=name, api_base=base, api_key=settings.model_api_key)


def missing_model_setting(config: ModelConfig) -> str | None:
    """Why calling `config`'s model cannot work as configured, or None: litellm knows no
    provider for the name, or (without an api base or key) finds no key in the environment.

    Imports litellm (seconds, the first time): call it off the event loop, once."""
    litellm = import_litellm()
    try:
        litellm.get_llm_provider(config.model, api_base=config.api_base)
    except litellm.exceptions.BadRequestError:
        return (
            f"litellm knows no provider for model {config.model!r}; set PATCHBOT_MODEL to "
            "PROVIDER/NAME, e.g. anthropic/claude-sonnet-4-5 or openai/gpt-4o"
        )
    if config.api_base or config.api_key:
        return None
    found = litellm.validate_environment(config.model)
    if found.get("keys_in_environment"):
        return None
    names = " or ".join(found.get("missing_keys") or ["the provider's key variable"])
    return (
        f"no key for model {config.model}: set PATCHBOT_MODEL_API_KEY or {names} "
        "(or PATCHBOT_MODEL_API_BASE for a server that needs none)"
    )


class Usage(BaseModel):
    """Tokens and cost of one model call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    """Cost from litellm's price table; None when the model is not in it (never guessed)."""


class ModelReply(BaseModel):
    """The assistant message of one call, with what it took."""

    message: dict[str, Any]
    """The assistant message in OpenAI chat format: role, content, tool_calls."""
    usage: Usage
    latency: float
    """Seconds from the first request to the reply, retries and waits included."""
    attempts: int = 1


class Model(Protocol):
    """Answers a conversation with the next assistant message."""

    async def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> ModelReply: ...


# litellm error class names, by what to do about them. Anything not listed aborts too.
TRANSIENT_ERRORS = (
    "RateLimitError",
    "Timeout",
    "APIConnectionError",
    "InternalServerError",
    "ServiceUnavailableError",
    "BadGatewayError",
)
ABORT_ERRORS = (
    "AuthenticationError",
    "PermissionDeniedError",
    "ContextWindowExceededError",
    "BadRequestError",
    "NotFoundError",
    "ContentPolicyViolationError",
    "UnsupportedParamsError",
    "APIError",  # any other status: not known to be transient
)
_FIXES = {
    "AuthenticationError": "check PATCHBOT_MODEL_API_KEY or the provider's key variable",
    "PermissionDeniedError": "check that the model key may use this model",
    "ContextWindowExceededError": "the conversation outgrew the model's context window",
    "NotFoundError": "check the model name (--model) and --api-base",
}


def import_litellm() -> Any:
    """litellm, imported on first use, with its price table read from the package (no network)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def preload_litellm() -> None:
    """Import litellm in a background thread now, so that no run waits seconds for it: for
    long-lived processes (server, worker, demo), at start."""
    threading.Thread(target=import_litellm, name="import-litellm", daemon=True).start()


def _error_kind(litellm: Any, error: Exception) -> str | None:
    """The most specific litellm error class name `error` is an instance of, if any."""
    for name in ABORT_ERRORS[:3] + TRANSIENT_ERRORS + ABORT_ERRORS[3:]:
        cls = getattr(litellm, name, None) or getattr(litellm.exceptions, name, None)
        if cls is not None and isinstance(error, cls):
            return name
    return None


class LitellmModel:
    """A `Model` backed by `litellm.acompletion`."""

    def __init__(self, config: ModelConfig, *, sleep: Any = asyncio.sleep) -> None:
        self.config = config
        self._sleep = sleep
        self._litellm: Any = None
        self._priced: bool | None = None

    @property
    def litellm(self) -> Any:
        if self._litellm is None:
            self._litellm = import_litellm()
        return self._litellm

    async def complete(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]
    ) -> ModelReply:
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._call(messages, tools)
            except Exception as error:
                kind = _error_kind(self.litellm, error)
                if kind is None:
                    raise
                transient = kind in TRANSIENT_ERRORS
                if not transient or attempt > self.config.max_retries:
                    raise self._model_error(error, kind, transient, attempt) from error
                await self._sleep(max(self._backoff(attempt), self._retry_after(error)))
                continue
            message = response.choices[0].message.model_dump(exclude_none=True)
            message = {k: v for k, v in message.items() if k in ("role", "content", "tool_calls")}
            message.setdefault("content", None)
            usage = self._usage(response)
            process_metrics().model_call(
                self.config.model, usage.prompt_tokens, usage.completion_tokens, usage.cost_usd
            )
            return ModelReply(
                message=message, usage=usage, latency=time.monotonic() - started, attempts=attempt
            )

    async def _call(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        config = self.config
        key = config.api_key.get_secret_value() if config.api_key else None
        if key is None and config.api_base and _needs_placeholder_key(config.model):
            key = "none"  # a local OpenAI-compatible server wants no key; the client wants one
        return await self.litellm.acompletion(
            model=config.model,
            messages=messages,
            tools=tools,
            api_base=config.api_base,
            api_key=key,
            temperature=config.temperature,
            max_tokens=config.max_output_tokens,
            timeout=config.request_timeout,
            num_retries=0,  # our retry policy is the only one
            max_retries=0,  # and the OpenAI client's own retries are off
        )

    def _backoff(self, attempt: int) -> float:
        delay = min(self.config.backoff_max, self.config.backoff_initial * 2.0 ** (attempt - 1))
        return float(delay * random.uniform(0.5, 1.0))

    def _retry_after(self, error: Exception) -> float:
        """Seconds the server asked us to wait (Retry-After), capped at `backoff_max`."""
        response = getattr(error, "response", None)
        headers = getattr(response, "headers", None) or {}
        try:
            seconds = float(headers.get("retry-after", 0))
        except (TypeError, ValueError):  # an HTTP date, or garbage: use our own backoff
            return 0.0
        return min(max(seconds, 0.0), self.config.backoff_max)

    def _model_error(
        self, error: Exception, kind: str, transient: bool, attempts: int
    ) -> ModelError:
        detail = str(getattr(error, "message", "") or error).strip()
        message = f"model {self.config.model!r}: {kind}: {detail}"
        if transient:
            message += f" (gave up after {attempts} attempts; raise max_retries or retry later)"
        elif kind in _FIXES:
            message += f" ({_FIXES[kind]})"
        return ModelError(message, kind=kind, transient=transient, attempts=attempts)

    def _usage(self, response: Any) -> Usage:
        usage = getattr(response, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        return Usage(
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=self.cost(prompt, completion),
        )

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """US dollars for these tokens from litellm's price table; None for an unpriced model."""
        if self._priced is None:
            self._priced = is_priced(self.litellm, self.config.model)
        if not self._priced:
            return None
        prompt_cost, completion_cost = self.litellm.cost_per_token(
            model=self.config.model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
        return float(prompt_cost + completion_cost)


def _needs_placeholder_key(model: str) -> bool:
    return model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY")


def is_priced(litellm: Any, model: str) -> bool:
    """Whether litellm's price table knows `model` (with or without its provider prefix)."""
    try:
        name, provider, _, _ = litellm.get_llm_provider(model)
    except litellm.exceptions.BadRequestError:
        return False
    return any(key in litellm.model_cost for key in (model, name, f"{provider}/{name}"))
