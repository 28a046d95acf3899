"""The host's end of the exec server: JSON lines over the container's attached stdio."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from typing import Any

import docker

from bot.errors import SandboxError
from bot.sandbox.attach import open_attached
from bot.sandbox.protocol import OutputSink

log = logging.getLogger(__name__)

_STDOUT, _STDERR = 1, 2
MAX_LINE = 256 * 1024 * 1024
"""Bytes of one answer at most (the biggest is a JUnit report read back, capped far lower)."""
ANSWER_MARGIN = 30.0
"""Seconds past a command's own timeout to wait for the exec server before giving up on it."""


class ExecChannel:
    """Sends one request at a time to the exec server and reads its answers.

    Docker multiplexes the container's stdout and stderr on the attached stream in frames of
    an 8-byte header (stream, size) and a payload; the server answers on stdout only.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._pending = bytearray()
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)

    @classmethod
    async def attach(cls, client: docker.DockerClient, container_id: str) -> ExecChannel:
        """Attach to a created, not yet started, container (so no output is missed), on a
        connection of the channel's own to the engine `client` talks to (see `attach.py`)."""
        return cls(*await open_attached(client, container_id))

    async def ready(self, timeout: float) -> dict[str, Any]:
        """Wait for the server's greeting."""
        return await asyncio.wait_for(self._message(), timeout)

    async def run(
        self,
        command: str,
        *,
        cwd: str,
        timeout: float,
        cap: int,
        on_output: OutputSink | None = None,
        stdin: str | None = None,
    ) -> dict[str, Any]:
        """Run `command` through the exec server and return its answer (see exec_server.py);
        `stdin`, if given, is written to the command's stdin (else it reads /dev/null)."""
        payload: dict[str, Any] = {
            "command": command,
            "cwd": cwd,
            "timeout": timeout,
            "cap": cap,
            "stream": on_output is not None,
        }
        if stdin is not None:
            payload["stdin"] = stdin
        return await self._ask(payload, timeout + ANSWER_MARGIN, on_output)

    async def prepare(self, command: str, *, cwd: str) -> None:
        """Have the exec server start `command`, which reads its stdin first, ahead of the run
        with the same command, folder and a `stdin`, which then starts at once."""
        await self._ask({"prepare": command, "cwd": cwd}, ANSWER_MARGIN, None)

    async def relay(self, socket_path: str, port: int) -> None:
        """Have the exec server pass connections to 127.0.0.1:`port` in the container on to the
        Unix socket `socket_path` (the set-up network, see `bot.setup.proxy`)."""
        await self._ask({"relay": socket_path, "port": port}, ANSWER_MARGIN, None)

    async def _ask(
        self, payload: dict[str, Any], timeout: float, on_output: OutputSink | None
    ) -> dict[str, Any]:
        async with self._lock:
            payload = {"id": next(self._ids), **payload}
            self._writer.write(json.dumps(payload).encode() + b"\n")
            await self._writer.drain()
            async with asyncio.timeout(timeout):
                while True:
                    message = await self._message()
                    if message.get("id") != payload["id"]:
                        continue
                    if "stream" in message:
                        if on_output is not None:
                            on_output(str(message["stream"]), str(message.get("data", "")))
                        continue
                    if "error" in message:
                        raise SandboxError(f"the sandbox's exec server failed: {message['error']}")
                    return message

    async def _message(self) -> dict[str, Any]:
        end = self._pending.find(b"\n")
        while end < 0:
            try:
                header = await self._reader.readexactly(8)
                payload = await self._reader.readexactly(int.from_bytes(header[4:8], "big"))
            except (asyncio.IncompleteReadError, ConnectionError) as error:
                raise SandboxError(
                    "the sandbox's exec server is gone (the container stopped, or a command "
                    "killed it)"
                ) from error
            if header[0] == _STDOUT:
                # A long answer comes in many frames: append in place and look for the end
                # in the new bytes only, or reading it would take time quadratic in its size.
                start = len(self._pending)
                self._pending += payload
                end = self._pending.find(b"\n", start)
            elif header[0] == _STDERR:
                log.warning("sandbox exec server: %s", payload.decode(errors="replace").rstrip())
            if len(self._pending) > MAX_LINE:
                raise SandboxError("the sandbox's exec server sent an answer past any size cap")
        line = self._pending[:end]
        del self._pending[: end + 1]
        try:
            message = json.loads(line)
        except json.JSONDecodeError as error:
            raise SandboxError("the sandbox's exec server answered something not JSON") from error
        if not isinstance(message, dict):
            raise SandboxError("the sandbox's exec server answered something not an object")
        return message

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()
