"""The process's Prometheus metrics: one `Metrics` object (its own registry) per process, made
on first use, which the areas record into and `/metrics` exposes.

Label values are bounded and never untrusted text: run states, step names and the model
name come from the code and the configuration, installation ids and rate-limit resources from
GitHub. No repository, issue or person is named."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from bot.errors import ConfigError

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The Prometheus text exposition format."""
_DURATIONS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
"""Buckets of a run or a step, seconds: from a cached no-op to the hour-long run."""
_SANDBOX = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
"""Buckets of a sandbox start or set-up, seconds: a warm start to a cold install."""
_RESOURCE = re.compile(r"[a-z_]{1,40}")
"""GitHub's rate-limit resources (`core`, `search`, `graphql`, ...); anything else is `other`."""


class Metrics:
    """The instruments of one process, in their own registry (imports prometheus_client)."""

    def __init__(self) -> None:
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            disable_created_metrics,
        )
        from prometheus_client.process_collector import ProcessCollector

        disable_created_metrics()  # no `_created` twin of every series: nobody graphs them
        self.registry = registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        self.run_duration = Histogram(
            "patchbot_run_duration_seconds",
            "Wall time of a worker's attempt at a run, claim to end, by the state it left",
            ["state"],
            buckets=_DURATIONS,
            registry=registry,
        )
        self.step_duration = Histogram(
            "patchbot_step_duration_seconds",
            "Wall time of a run's steps, each named by the trace event that ends it",
            ["step"],
            buckets=_DURATIONS,
            registry=registry,
        )
        self.model_calls = Counter(
            "patchbot_model_calls", "Model calls answered", ["model"], registry=registry
        )
        self.model_tokens = Counter(
            "patchbot_model_tokens",
            "Tokens of answered model calls, by model and type (input, output)",
            ["model", "type"],
            registry=registry,
        )
        self.model_cost = Counter(
            "patchbot_model_cost_usd",
            "Model spend from litellm's price table, US dollars (a model it cannot price adds "
            "nothing here: see patchbot_model_unpriced_calls_total)",
            ["model"],
            registry=registry,
        )
        self.model_unpriced = Counter(
            "patchbot_model_unpriced_calls",
            "Model calls whose cost is unknown (the model has no price in litellm's table)",
            ["model"],
            registry=registry,
        )
        self.sandbox_start = Histogram(
            "patchbot_sandbox_start_seconds",
            "Time to start a sandbox's test container (its environment already set up)",
            buckets=_SANDBOX,
            registry=registry,
        )
        self.sandbox_setup = Histogram(
            "patchbot_sandbox_setup_seconds",
            "Time to set up a sandbox's environment: installed now, or found in the cache",
            ["cached"],
            buckets=_SANDBOX,
            registry=registry,
        )
        self.github_rate_limit = Gauge(
            "patchbot_github_rate_limit_remaining",
            "Requests left in GitHub's rate limit, from the latest response's "
            "X-RateLimit-Remaining, by installation id (`app`: as the App) and resource",
            ["installation", "resource"],
            registry=registry,
        )

    def model_call(
        self, model: str, input_tokens: int, output_tokens: int, cost_usd: float | None
    ) -> None:
        """An answered model call and what it used."""
        self.model_calls.labels(model).inc()
        self.model_tokens.labels(model, "input").inc(input_tokens)
        self.model_tokens.labels(model, "output").inc(output_tokens)
        if cost_usd is None:
            self.model_unpriced.labels(model).inc()
        else:
            self.model_cost.labels(model).inc(cost_usd)

    def github_response(self, installation: int | None, headers: Mapping[str, str]) -> None:
        """Keep the rate limit a GitHub response reports (responses without one change nothing)."""
        remaining = headers.get("X-RateLimit-Remaining")
        if remaining is None or not remaining.isdigit():
            return
        resource = headers.get("X-RateLimit-Resource") or "core"
        if not _RESOURCE.fullmatch(resource):
            resource = "other"
        who = "app" if installation is None else str(installation)
        self.github_rate_limit.labels(who, resource).set(int(remaining))

    def run_ended(self, state: str, seconds: float, steps: Iterable[tuple[str, float]]) -> None:
        """A worker's attempt at a run ended in `state`; `steps` (name, seconds) in order."""
        self.run_duration.labels(state).observe(seconds)
        for name, step_seconds in steps:
            self.step_duration.labels(name).observe(step_seconds)

    def exposition(self, store: Collection[Metric] = ()) -> bytes:
        """The text `/metrics` answers: this process's metrics, then `store`'s (see
        `store_metrics`)."""
        from prometheus_client import generate_latest

        text = generate_latest(self.registry)
        return text + generate_latest(_Fixed(store)) if store else text


def store_metrics(
    runs_by_state: Mapping[str, int],
    oldest_queued_age: float | None,
    failed_deliveries: int,
    pull_outcomes: Mapping[str, int],
) -> list[Metric]:
    """The store's view as read at a scrape: the same from every process that reads it, so
    only `patchbot serve` reports it."""
    from prometheus_client.core import GaugeMetricFamily

    runs = GaugeMetricFamily("patchbot_runs", "Runs in the store, by state", labels=["state"])
    for state, count in runs_by_state.items():
        runs.add_metric([state], count)
    depth = GaugeMetricFamily(
        "patchbot_queue_depth",
        'Runs waiting for a worker (patchbot_runs{state="queued"})',
        value=runs_by_state.get("queued", 0),
    )
    age = GaugeMetricFamily(
        "patchbot_queue_oldest_age_seconds",
        "How long the longest-waiting queued run has waited (0: none waits)",
        value=max(oldest_queued_age or 0.0, 0.0),
    )
    failed = GaugeMetricFamily(
        "patchbot_deliveries_failed",
        "Webhook deliveries whose handling failed (`patchbot deliveries list --failed`)",
        value=failed_deliveries,
    )
    pulls = GaugeMetricFamily(
        "patchbot_pull_outcomes",
        "Patchbot's pull requests by where they ended up (open, merged, closed, reverted)",
        labels=["state"],
    )
    for state, count in pull_outcomes.items():
        pulls.add_metric([state], count)
    return [runs, depth, age, failed, pulls]


class _Fixed:
    """A collector of metrics read already (what `generate_latest` needs: `collect`)."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterator[Metric]:
        return iter(self._metrics)


_process: Metrics | None = None


def process_metrics() -> Metrics:
    """This process's metrics, made on first use."""
    global _process
    if _process is None:
        _process = Metrics()
    return _process


def serve_metrics(host: str, port: int) -> Any:
    """Serve this process's metrics on http://HOST:PORT/metrics from a thread (the worker's
    endpoint); the server, to `shutdown()`."""
    from prometheus_client import start_http_server

    try:
        server, _thread = start_http_server(port, addr=host, registry=process_metrics().registry)
    except OSError as error:  # in use, not an address of this machine
        raise ConfigError(
            f"--metrics-port: cannot listen on {host}:{port} ({error.strerror or error}).\n"
            "  How to fix: choose a free port, or give --metrics-host an address of this "
            "machine (0.0.0.0: all of them)."
        ) from error
    return server
