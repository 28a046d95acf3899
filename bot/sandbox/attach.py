"""The container's attached stdio on a connection of our own to the Docker Engine.

docker-py's `attach_socket` answers with the socket of its own HTTP response: over TLS an
`SSLSocket`, which asyncio cannot take, and in every case a socket that closing the response
(the garbage collector's doing, at any moment) closes under the channel. So the channel
connects by itself, where the docker-py client it is given points (DOCKER_HOST,
DOCKER_TLS_VERIFY and DOCKER_CERT_PATH configure both), and upgrades the connection as
`docker attach` does.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Any

import docker
from docker.transport import UnixHTTPAdapter

from bot.errors import SandboxError

SUPPORTED = (
    "unix://PATH, or tcp://HOST:PORT (with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH for TLS); "
    "ssh:// and npipe:// engines are not supported"
)
_BODY_LIMIT = 64 * 1024
"""Bytes of a refusal's body read at most (the engine's message is one line)."""


@dataclass(frozen=True)
class Endpoint:
    """Where the engine listens: the Unix socket `path`, else `host`:`port`, over TLS with
    `tls`. `netloc` is what the request's Host header names."""

    netloc: str
    path: str | None = None
    host: str = ""
    port: int = 0
    tls: ssl.SSLContext | None = None

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.path is not None:
            return await asyncio.open_unix_connection(self.path)
        return await asyncio.open_connection(self.host, self.port, ssl=self.tls)


def endpoint(client: docker.DockerClient) -> Endpoint:
    """Where `client` reaches its engine, with its TLS settings."""
    api = client.api
    adapter = getattr(api, "_custom_adapter", None)
    if isinstance(adapter, UnixHTTPAdapter):
        return Endpoint("localhost", path=adapter.socket_path)
    url = urllib.parse.urlsplit(api.base_url)
    if url.scheme not in ("http", "https") or not url.hostname or not url.port:
        host = os.environ.get("DOCKER_HOST", api.base_url)
        raise SandboxError(
            f"the sandbox cannot attach through the Docker Engine at {host}: set DOCKER_HOST "
            f"to {SUPPORTED}"
        )
    tls = _tls(api.verify, api.cert) if url.scheme == "https" else None
    return Endpoint(url.netloc, host=url.hostname, port=url.port, tls=tls)


def _tls(verify: Any, cert: Any) -> ssl.SSLContext:
    """docker-py's TLS settings as requests applies them: `verify` a CA file (or folder),
    True for the system's CAs, false for none; `cert` the client's certificate and key."""
    try:
        if not verify:  # DOCKER_CERT_PATH without DOCKER_TLS_VERIFY: encrypted, not verified
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif isinstance(verify, str) and os.path.isdir(verify):
            context = ssl.create_default_context(capath=verify)
        elif isinstance(verify, str):
            context = ssl.create_default_context(cafile=verify)
        else:
            context = ssl.create_default_context()
        if isinstance(cert, tuple | list):
            context.load_cert_chain(*cert)
        elif cert:
            context.load_cert_chain(cert)
    except (OSError, ssl.SSLError) as error:
        raise SandboxError(
            f"cannot load the Docker Engine's TLS certificates; check DOCKER_CERT_PATH ({error})"
        ) from error
    return context


async def open_attached(
    client: docker.DockerClient, container_id: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A stream on the container's stdin, stdout and stderr (multiplexed unless the container
    has a TTY), through the engine `client` talks to, within the client's timeout."""
    target = endpoint(client)
    container = urllib.parse.quote(container_id, safe="")
    request = (
        f"POST /v{client.api.api_version}/containers/{container}/attach"
        "?stdin=1&stdout=1&stderr=1&stream=1 HTTP/1.1\r\n"
        f"Host: {target.netloc}\r\n"
        "Content-Length: 0\r\n"
        "Connection: Upgrade\r\n"
        "Upgrade: tcp\r\n"
        "\r\n"
    )
    where = target.path or target.netloc
    try:
        async with asyncio.timeout(client.api.timeout):
            reader, writer = await target.connect()
            try:
                writer.write(request.encode())
                await writer.drain()
                await _upgraded(reader)
            except BaseException:
                writer.close()
                raise
    except (OSError, TimeoutError) as error:  # ssl.SSLError is an OSError
        raise SandboxError(
            f"cannot attach to the sandbox through the Docker Engine at {where}: "
            f"{str(error) or type(error).__name__}"
        ) from error
    return reader, writer


async def _upgraded(reader: asyncio.StreamReader) -> None:
    """Read the engine's answer up to the stream: 101 (200 from older engines) or a refusal."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        raise SandboxError(
            "the Docker Engine hung up instead of attaching to the sandbox"
        ) from error
    except asyncio.LimitOverrunError as error:
        raise SandboxError("the Docker Engine answered the attach with endless headers") from error
    status_line, *lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/") or not code.isdigit():
        raise SandboxError(f"the Docker Engine answered the attach with {status_line!r}")
    if code in ("101", "200"):
        return
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await _body(reader, headers)
    raise SandboxError(f"the Docker Engine refused to attach to the sandbox: {rest}: {body}")


async def _body(reader: asyncio.StreamReader, headers: dict[str, str]) -> str:
    """The refusal's message: a JSON body's `message`, else its text (the engine writes a
    failed attach's error as plain text and hangs up)."""
    try:
        if headers.get("content-length", "").isdigit():
            raw = await reader.readexactly(min(int(headers["content-length"]), _BODY_LIMIT))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            raw = b""
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                raw += (await reader.readexactly(size + 2))[:-2]
                if len(raw) > _BODY_LIMIT:
                    break
        else:  # to the end of the connection
            raw = b""
            while len(raw) < _BODY_LIMIT and (more := await reader.read(_BODY_LIMIT - len(raw))):
                raw += more
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError):
        return "(no message)"
    text = raw.decode(errors="replace").strip()
    try:
        message = json.loads(text)
    except ValueError:
        return text[:1000]
    return str(message.get("message", text) if isinstance(message, dict) else text)[:1000]
