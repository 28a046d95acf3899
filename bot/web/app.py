"""The aiohttp application. The webhook entry is thin: verify the signature, persist the
delivery, hand it to the dispatcher, answer. GitHub calls and runs happen after the answer.
`/healthz` says the process is alive; `/readyz` whether it can do its work (`readiness`);
`/metrics` what it did and what the store holds, for Prometheus."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Sequence

from aiohttp import web

from bot.handlers.dispatcher import Dispatcher
from bot.runs.models import Delivery
from bot.runs.store import RunStore
from bot.runs.worker import Worker
from bot.telemetry.metrics import CONTENT_TYPE, process_metrics, store_metrics
from bot.web.events import BadDelivery, read_event
from bot.web.limits import GUARD, ConnectionGuard, ServerLimits, bounded
from bot.web.readiness import Readiness, store_check
from bot.web.signature import BadSignature, verify_signature

log = logging.getLogger(__name__)

MAX_BODY = 25 * 1024 * 1024
"""GitHub caps webhook payloads at 25 MB."""

_ACCEPTED = b'{"status": "accepted"}'
_DUPLICATE = b'{"status": "duplicate"}'

SECRET = web.AppKey("webhook_secret", str)
STORE = web.AppKey("store", RunStore)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
WORKERS = web.AppKey("workers", list[Worker])
WORKER_TASKS = web.AppKey("worker_tasks", list["asyncio.Task[None]"])
READINESS = web.AppKey("readiness", Readiness)


def tune_garbage_collector() -> None:
    """Call once the server is set up. Webhook payloads are trees of dicts freed by reference
    counting; the cyclic collector, run every 700 allocations, only adds pauses to the
    acknowledgement time. Collect rarely, and never rescan what start-up created."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def create_app(
    *,
    webhook_secret: str,
    store: RunStore,
    dispatcher: Dispatcher,
    workers: Sequence[Worker] = (),
    readiness: Readiness | None = None,
    limits: ServerLimits | None = None,
) -> web.Application:
    """The app; on start-up it recovers unprocessed deliveries and starts the embedded workers.
    `/readyz` runs the `readiness` checks (by default: the store's). Serve it with
    `LimitedSite` so that `limits` hold (see `bot.web.limits`).

    The caller owns (opens and closes) the store."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[bounded])
    app[GUARD] = ConnectionGuard(limits or ServerLimits())
    app[SECRET] = webhook_secret
    app[STORE] = store
    app[DISPATCHER] = dispatcher
    app[WORKERS] = list(workers)
    app[READINESS] = readiness or Readiness({"store": store_check(store)})
    app.router.add_post("/webhooks", receive_webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.cleanup_ctx.append(_background)
    return app


async def _background(app: web.Application) -> AsyncIterator[None]:
    stop = asyncio.Event()
    dispatching = asyncio.create_task(app[DISPATCHER].run(), name="dispatcher")
    app[WORKER_TASKS] = [
        asyncio.create_task(worker.run_forever(stop), name=f"worker {worker.name}")
        for worker in app[WORKERS]
    ]
    yield
    stop.set()
    dispatching.cancel()
    for task in app[WORKER_TASKS]:
        task.cancel()  # a run in progress is taken over by another worker after its lease
    for task in (dispatching, *app[WORKER_TASKS]):
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def receive_webhook(request: web.Request) -> web.Response:
    dispatcher = request.app[DISPATCHER]
    dispatcher.answering()
    try:
        return await _acknowledge(request, dispatcher)
    finally:
        dispatcher.answered()


async def _acknowledge(request: web.Request, dispatcher: Dispatcher) -> web.Response:
    body = await request.read()
    headers = request.headers
    try:
        verify_signature(headers, body, request.app[SECRET])
    except BadSignature as failure:
        log.warning(
            "refused a webhook with a bad signature: %s",
            failure,
            extra={"delivery_id": headers.get("X-GitHub-Delivery")},
        )
        return _error(401, "the X-Hub-Signature-256 signature is missing or does not match")
    try:
        event = read_event(headers, request.content_type, body)
    except BadDelivery as failure:
        return _error(400, f"not a GitHub webhook delivery: {failure}")
    extra = {"delivery_id": event.delivery_id}
    action = event.data.get("action")
    if not dispatcher.handles(event):
        log.info("not handled: %s %s", event.event, action or "", extra=extra)
        return web.json_response({"status": "ignored"}, status=202)
    installation = event.data.get("installation")
    installation_id = installation.get("id") if isinstance(installation, dict) else None
    delivery = Delivery.model_construct(  # the values are checked above; skip re-validation
        delivery_id=event.delivery_id,
        event=event.event,
        action=action if isinstance(action, str) else None,
        installation_id=installation_id if isinstance(installation_id, int) else None,
        payload=body.decode(),
        received_at=time.time(),
        processed_at=None,
        error=None,
    )
    store = request.app[STORE]
    if not await store.record_delivery(delivery):
        stored = await store.get_delivery(event.delivery_id)
        if stored is None or stored.error is None:
            log.info("redelivery of %s ignored", event.event, extra=extra)
            return web.Response(body=_DUPLICATE, content_type="application/json")
        # Redelivered by hand after its handling failed: handle it again (a delivery still
        # makes at most one run).
        log.info("redelivery of failed %s: handling it again", event.event, extra=extra)
    dispatcher.submit(event.delivery_id, event)
    return web.Response(body=_ACCEPTED, content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    """200 when the store answers and every embedded worker is alive; 503 otherwise."""
    healthy = True
    try:
        await request.app[STORE].ping()
        store = "ok"
    except Exception as failure:  # any failure to reach the store is what we report
        store, healthy = f"unreachable: {type(failure).__name__}: {failure}", False
    workers = []
    tasks: list[asyncio.Task[None]] = request.app.get(WORKER_TASKS) or []
    embedded: list[Worker] = request.app[WORKERS]
    for worker, task in zip(embedded, tasks, strict=False):
        alive = not task.done()
        healthy = healthy and alive
        current = worker.current
        workers.append(
            {"name": worker.name, "alive": alive, "run": current.id if current else None}
        )
    return web.json_response(
        {
            "status": "ok" if healthy else "unhealthy",
            "store": store,
            "workers": workers,
            "deliveries_backlog": request.app[DISPATCHER].backlog,
        },
        status=200 if healthy else 503,
    )


async def readyz(request: web.Request) -> web.Response:
    """200 when every readiness check passes, 503 otherwise; each check with its reason."""
    report = await request.app[READINESS].report()
    return web.json_response(report, status=200 if report["status"] == "ready" else 503)


async def metrics(request: web.Request) -> web.Response:
    """This process's metrics (with its embedded workers'), and the store's runs by state,
    queue, failed deliveries and pull requests by outcome, in Prometheus' text format."""
    counts = await request.app[STORE].run_counts()
    oldest = counts.oldest_queued_at
    store = store_metrics(
        {state.value: count for state, count in counts.by_state.items()},
        time.time() - oldest if oldest is not None else None,
        counts.failed_deliveries,
        counts.pull_outcomes,
    )
    body = process_metrics().exposition(store)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
