"""A sandbox through a Docker Engine over TLS, as README's dedicated Docker host serves it."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from bot.sandbox.attach import endpoint
from bot.sandbox.config import SandboxConfig
from bot.sandbox.docker import open_sandbox
from bot.testing.tls import docker_certificates, server_context

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_ready")]


class TlsRelay:
    """A TLS endpoint on 127.0.0.1 that requires a client certificate and passes each
    connection on, byte for byte both ways, to the local engine's Unix socket. It runs its own
    event loop in a thread: a remote engine does not wait on the test's loop either."""

    def __init__(self, context: ssl.SSLContext, socket_path: str) -> None:
        self.context = context
        self.socket_path = socket_path
        self.requests: list[bytes] = []
        """The first line of each connection's first request."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> int:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        return started.result(10)

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.context)
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._tasks.add(task := asyncio.current_task())  # type: ignore[arg-type]
        try:
            engine_reader, engine_writer = await asyncio.open_unix_connection(self.socket_path)
            await asyncio.gather(
                self._pipe(reader, engine_writer, first=True), self._pipe(engine_reader, writer)
            )
        finally:
            writer.close()
            self._tasks.discard(task)  # type: ignore[arg-type]

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, first: bool = False
    ) -> None:
        try:
            while data := await source.read(64 * 1024):
                if first:
                    self.requests.append(data.split(b"\r\n", 1)[0])
                    first = False
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:  # one side's end is the other's
            sink.close()

    def stop(self) -> None:
        async def stop() -> None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture
def tls_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TlsRelay]:
    """This machine's engine behind a TLS relay, and the environment pointing Patchbot at it
    as README's Deploy section says (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH)."""
    local = endpoint(docker.from_env()).path
    if local is None:
        pytest.skip("relays to the engine's Unix socket; DOCKER_HOST names another")
    certificates = docker_certificates(tmp_path / "certs")
    relay = TlsRelay(server_context(certificates), local)
    port = relay.start()
    # requests, under docker-py, trusts these over DOCKER_CERT_PATH's CA: set empty, as
    # README's Deploy section tells an operator whose image sets them
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{port}")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(certificates))
    yield relay
    relay.stop()


async def test_a_sandbox_runs_through_an_engine_over_tls(
    example_repo: Callable[[str], Path], tls_engine: TlsRelay
) -> None:
    """Set up offline (`mixed` needs only the image's pytest): nothing leaves the machine."""
    config = SandboxConfig(setup_network=False)
    async with open_sandbox(example_repo("mixed"), config) as sandbox:
        said = await sandbox.exec("echo hello from the sandbox")
        report = await sandbox.run_tests()
    assert (said.exit_code, said.stdout) == (0, "hello from the sandbox\n")
    assert report.summary_line() == "3 passed, 3 failed, 1 skipped"
    attaches = [r for r in tls_engine.requests if b"/attach?" in r]
    assert attaches, "the exec channel did not attach through the TLS endpoint"
    assert all(r.startswith(b"POST /v1.") for r in attaches)
