"""The exec channel's own connection to the engine: the attach upgrade, over a Unix socket and
over TLS, its refusals, and its end when the channel closes."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import docker
import pytest

from bot.errors import SandboxError
from bot.sandbox.attach import endpoint
from bot.sandbox.channel import ExecChannel
from bot.testing.tls import docker_certificates, server_context

GREETING = b'{"ready": true}\n'
UPGRADED = (
    b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n"
    b"Connection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: 1.45\r\n\r\n"
)


def _frame(payload: bytes) -> bytes:
    """Docker's framing of the container's stdout on the attached stream."""
    return bytes([1, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


class FakeEngine:
    """Answers an attach with `answer` in one write (so the stream arrives with the headers),
    then holds the connection until the client ends it, or hangs up at once (`hang_up`)."""

    def __init__(self, answer: bytes, hang_up: bool) -> None:
        self.answer = answer
        self.hang_up = hang_up
        self.requests: list[bytes] = []
        self.ended = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(self.answer)
        await writer.drain()
        if not self.hang_up:
            await reader.read()
            self.ended.set()
        writer.close()


Start = Callable[..., Awaitable[tuple[FakeEngine, docker.DockerClient]]]


@pytest.fixture
async def engine() -> AsyncIterator[Start]:
    """Starts a fake engine on a Unix socket (or, given `tls`, on 127.0.0.1 over TLS) and
    returns it with a docker-py client for it, built from the environment as Patchbot's is."""
    servers: list[asyncio.Server] = []
    with tempfile.TemporaryDirectory(prefix="engine") as folder:  # short: a socket's path

        async def start(
            answer: bytes = UPGRADED + _frame(GREETING),
            *,
            hang_up: bool = False,
            tls: dict[str, str] | None = None,
            server_certs: Path | None = None,
        ) -> tuple[FakeEngine, docker.DockerClient]:
            fake = FakeEngine(answer, hang_up)
            if tls is None:
                path = f"{folder}/docker.sock"
                servers.append(await asyncio.start_unix_server(fake.serve, path))
                environment = {"DOCKER_HOST": f"unix://{path}"}
            else:
                context = server_context(server_certs or Path(tls["DOCKER_CERT_PATH"]))
                server = await asyncio.start_server(fake.serve, "127.0.0.1", 0, ssl=context)
                servers.append(server)
                port = server.sockets[0].getsockname()[1]
                environment = {"DOCKER_HOST": f"tcp://127.0.0.1:{port}", **tls}
            return fake, docker.from_env(version="1.45", environment=environment)

        yield start
        for server in servers:
            server.close()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return docker_certificates(tmp_path_factory.mktemp("certs"))


async def test_the_channel_attaches_by_an_upgrade_and_reads_the_stream_after_it(
    engine: Start,
) -> None:
    fake, client = await engine()
    channel = await ExecChannel.attach(client, "abc")
    assert await channel.ready(5) == {"ready": True}
    await channel.close()
    request_line, *headers = fake.requests[0].decode().strip().split("\r\n")
    assert request_line == (
        "POST /v1.45/containers/abc/attach?stdin=1&stdout=1&stderr=1&stream=1 HTTP/1.1"
    )
    assert {"Connection: Upgrade", "Upgrade: tcp"} <= set(headers)


async def test_an_older_engines_200_is_taken_as_attached(engine: Start) -> None:
    answered = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"
    _, client = await engine(answered + _frame(GREETING))
    channel = await ExecChannel.attach(client, "abc")
    assert await channel.ready(5) == {"ready": True}
    await channel.close()


@pytest.mark.parametrize(
    "answer",
    [
        # how the engine fails an attach: plain text, then it hangs up
        b"HTTP/1.1 404 Not Found\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"
        b"No such container: abc\r\n",
        # how it refuses a request elsewhere: JSON, with its length
        b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 37\r\n\r\n"
        b'{"message":"No such container: abc"}\n',
    ],
)
async def test_a_refused_attach_is_a_sandbox_error_with_the_engines_message(
    engine: Start, answer: bytes
) -> None:
    _, client = await engine(answer, hang_up=True)
    with pytest.raises(SandboxError, match=r"refused .*: 404 Not Found: No such container: abc$"):
        await ExecChannel.attach(client, "abc")


async def test_an_engine_hanging_up_without_an_answer_is_a_sandbox_error(engine: Start) -> None:
    _, client = await engine(b"HTTP/1.1 101 UPGR", hang_up=True)
    with pytest.raises(SandboxError, match="hung up"):
        await ExecChannel.attach(client, "abc")


async def test_closing_the_channel_ends_the_connection_at_once(engine: Start) -> None:
    fake, client = await engine()
    channel = await ExecChannel.attach(client, "abc")
    await channel.close()
    await asyncio.wait_for(fake.ended.wait(), 5)


def _tls_env(certificates: Path) -> dict[str, str]:
    return {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certificates)}


async def test_the_channel_attaches_over_tls_as_docker_cert_path_configures_it(
    engine: Start, certificates: Path
) -> None:
    """The engine requires the client certificate from DOCKER_CERT_PATH, and the channel
    checks the engine's against its CA and address."""
    fake, client = await engine(tls=_tls_env(certificates))
    channel = await ExecChannel.attach(client, "abc")
    assert await channel.ready(5) == {"ready": True}
    await channel.close()
    await asyncio.wait_for(fake.ended.wait(), 5)


async def test_an_engine_certified_by_another_ca_is_refused(
    engine: Start, certificates: Path, tmp_path: Path
) -> None:
    other = docker_certificates(tmp_path / "other")
    _, client = await engine(tls=_tls_env(certificates), server_certs=other)
    with pytest.raises(SandboxError, match="CERTIFICATE_VERIFY_FAILED"):
        await ExecChannel.attach(client, "abc")


@pytest.mark.parametrize("base_url", ["http+docker://ssh", "http+docker://localnpipe"])
def test_engines_the_channel_cannot_reach_are_named_with_the_forms_it_can(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As docker-py's client stands for an ssh:// or npipe:// DOCKER_HOST (neither of which
    this machine's docker-py can build)."""
    monkeypatch.setenv("DOCKER_HOST", "ssh://sandboxes.example.com")
    client: Any = SimpleNamespace(api=SimpleNamespace(base_url=base_url))
    with pytest.raises(
        SandboxError, match=r"ssh://sandboxes\.example\.com: set DOCKER_HOST to unix"
    ):
        endpoint(client)
