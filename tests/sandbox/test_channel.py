"""The exec channel's socket: its own, whatever becomes of the objects docker-py made for it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from bot.sandbox.channel import ExecChannel

GREETING = b'{"ready": true}\n'


class _Response:
    """docker-py's HTTP response behind an attached socket: closing it, as the garbage
    collector does whenever it reaches it, closes its file on the socket and the socket."""

    def __init__(self, file: socket.SocketIO, sock: socket.socket) -> None:
        self.file = file
        self.sock = sock

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def _frame(payload: bytes) -> bytes:
    """Docker's framing of the container's stdout on the attach socket."""
    return bytes([1, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


@pytest.fixture
def attached() -> Iterator[tuple[Any, socket.SocketIO, socket.socket]]:
    """A client whose `attach_socket` answers as docker-py's does (a `SocketIO` carrying its
    response), that answer, and the container's end of the connection."""
    ours, container = socket.socketpair()
    raw = ours.makefile("rwb", buffering=0)
    raw._response = _Response(raw, ours)  # type: ignore[attr-defined]
    client = SimpleNamespace(api=SimpleNamespace(attach_socket=lambda container_id, params: raw))
    yield client, raw, container
    container.close()
    ours.close()


async def test_the_channel_outlives_the_response_docker_py_attached_for_it(
    attached: tuple[Any, socket.SocketIO, socket.socket],
) -> None:
    client, raw, container = attached
    channel = await ExecChannel.attach(client, "abc")
    raw._response.close()  # type: ignore[attr-defined]  # the collector may, at any moment
    container.sendall(_frame(GREETING))
    assert await channel.ready(5) == {"ready": True}
    await channel.close()


async def test_closing_the_channel_ends_the_connection_at_once(
    attached: tuple[Any, socket.SocketIO, socket.socket],
) -> None:
    """Not when the collector gets to docker-py's objects for the socket (the fixture holds
    them)."""
    client, _, container = attached
    channel = await ExecChannel.attach(client, "abc")
    await channel.close()
    container.settimeout(5)
    assert await asyncio.to_thread(container.recv, 1) == b""


@pytest.mark.docker
def test_docker_pys_attached_socket_is_closed_with_its_response(docker_ready: None) -> None:
    """What `_Response` stands for, with the real docker-py."""
    import docker

    from bot.sandbox.images import find_image
    from bot.sandbox.launch import LABEL, OWNER_LABEL, owner_label

    client = docker.from_env()
    image = find_image(client, "python")
    labels = {LABEL: "1", OWNER_LABEL: owner_label()}
    container = client.containers.create(image.id, ["cat"], stdin_open=True, labels=labels)
    try:
        raw = client.api.attach_socket(container.id, {"stdin": 1, "stdout": 1, "stream": 1})
        sock = raw._sock
        raw._response.close()
        assert sock.fileno() == -1
    finally:
        container.remove(force=True)
