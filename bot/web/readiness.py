"""`GET /readyz`: whether this process can do its work now. The store answers a query, the
Docker Engine answers, the sandbox images are built from their folders as they are now,
GitHub accepts the App's credentials, and the model is configured. The checks run at once,
each within a timeout, and their answer is kept a few seconds, so that a load balancer
polling it does not hammer Docker and GitHub."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import ConfigError
from bot.trace import Redactor

if TYPE_CHECKING:
    from bot.agent.model import ModelConfig
    from bot.github.client import GitHubApp
    from bot.runs.store import RunStore
    from bot.settings import Settings

Check = Callable[[], Awaitable[str]]
"""One readiness check: returns a one-line reason when it passes, raises when it fails."""

CHECK_TIMEOUT = 5.0
"""Seconds one check may take before it counts as failed."""
CACHE_SECONDS = 5.0
"""Seconds an answer is reused before the checks run again."""
_REASON_LENGTH = 300


class Readiness:
    """Runs its checks concurrently, at most once per `cache_seconds`, however many callers
    ask at once; the report names each check with `ok` or `error` and a one-line reason."""

    def __init__(
        self,
        checks: Mapping[str, Check],
        *,
        secrets: Iterable[str] = (),
        timeout: float = CHECK_TIMEOUT,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self.checks = dict(checks)
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self._redact = Redactor(secrets)
        self._answer: tuple[float, dict[str, Any]] | None = None
        self._checking: asyncio.Task[dict[str, Any]] | None = None

    async def report(self) -> dict[str, Any]:
        """`{"status": "ready" | "not ready", "checks": {NAME: {"status", "reason"}}}`."""
        if self._answer is not None and time.monotonic() - self._answer[0] < self.cache_seconds:
            return self._answer[1]
        if self._checking is None:
            self._checking = asyncio.create_task(self._check_all())
            self._checking.add_done_callback(self._checked)
        # A caller that goes away must not cancel the checks the others wait for.
        return await asyncio.shield(self._checking)

    def _checked(self, task: asyncio.Task[dict[str, Any]]) -> None:
        self._checking = None
        if not task.cancelled() and task.exception() is None:
            self._answer = (time.monotonic(), task.result())

    async def _check_all(self) -> dict[str, Any]:
        names = list(self.checks)
        results = await asyncio.gather(*(self._run(self.checks[name]) for name in names))
        checks = dict(zip(names, results, strict=True))
        ready = all(result["status"] == "ok" for result in checks.values())
        return {"status": "ready" if ready else "not ready", "checks": checks}

    async def _run(self, check: Check) -> dict[str, str]:
        try:
            async with asyncio.timeout(self.timeout):
                reason = await check()
        except TimeoutError:
            return {"status": "error", "reason": f"no answer within {self.timeout:g} s"}
        except Exception as error:  # every failure is the check's answer, not the server's
            return {"status": "error", "reason": self._line(_reason(error))}
        return {"status": "ok", "reason": self._line(reason)}

    def _line(self, text: str) -> str:
        return self._redact(" ".join(text.split()))[:_REASON_LENGTH]


def _reason(error: Exception) -> str:
    if isinstance(error, ConfigError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def store_check(store: RunStore) -> Check:
    async def check() -> str:
        await store.ping()
        return "the database answered a query"

    return check


def docker_check() -> Check:
    def ping() -> str:
        import docker

        client = docker.from_env(timeout=int(CHECK_TIMEOUT))
        try:
            client.ping()
        finally:
            client.close()
        return "the Docker Engine answered"

    async def check() -> str:
        return await asyncio.to_thread(ping)

    return check


def images_check(names: Sequence[str], images_dir: Path) -> Check:
    """The images `names` exist and carry the content hash of their folder as it is now."""

    def inspect() -> str:
        import docker

        from bot.sandbox.images import HASH_LABEL, discover, find_image

        specs = {spec.name: spec for spec in discover(images_dir)}
        client = docker.from_env(timeout=int(CHECK_TIMEOUT))
        try:
            for name in names:
                spec = specs.get(name)
                if spec is None:
                    raise ConfigError(
                        f"sandbox image {name!r} has no folder in {images_dir}; "
                        "set PATCHBOT_IMAGES_DIR to the folder of sandbox images"
                    )
                if find_image(client, name).labels.get(HASH_LABEL) != spec.content_hash():
                    raise ConfigError(
                        f"sandbox image {name!r} was built from an older {spec.folder}; "
                        f"run `patchbot images build {name}`"
                    )
        finally:
            client.close()
        return f"{', '.join(names)} built from {images_dir} as it is now"

    async def check() -> str:
        return await asyncio.to_thread(inspect)

    return check


def github_check(app: GitHubApp) -> Check:
    """`GET /app` with the App's JWT: the App ID and private key are accepted."""

    async def check() -> str:
        found = await app.app_api().getitem("/app")
        return f"GitHub accepted the App's credentials ({found.get('slug')}, id {found.get('id')})"

    return check


def model_check(config: ModelConfig) -> Check:
    """The model has a provider litellm knows and a key it can find (or an api base). Starts
    at once, in a thread (it imports litellm), and is worked out once per process: the
    environment it reads does not change. Call it with the event loop running."""
    from bot.agent.model import missing_model_setting

    loop = asyncio.get_running_loop()
    problem = loop.run_in_executor(None, missing_model_setting, config)
    where = "an OpenAI-compatible server" if config.api_base else "its provider"

    async def check() -> str:
        found = await asyncio.shield(problem)
        if found is not None:
            raise ConfigError(found)
        return f"model {config.model} at {where}"

    return check


def serving_checks(
    settings: Settings, store: RunStore, app: GitHubApp, *, works_runs: bool
) -> dict[str, Check]:
    """What `patchbot serve` needs: the store and GitHub always; Docker, the images the
    server's policy allows and the model when this process works runs (`--workers` > 0).
    Call it with the event loop running."""
    checks = {"store": store_check(store), "github": github_check(app)}
    if works_runs:
        from bot.agent.model import configured_model
        from bot.policy.load import default_policy_path, load_policy_file
        from bot.sandbox.images import default_images_dir

        images = load_policy_file(default_policy_path()).sandbox.images
        checks["docker"] = docker_check()
        checks["images"] = images_check(images, default_images_dir())
        checks["model"] = model_check(configured_model(settings))
    return checks
