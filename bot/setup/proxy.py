"""The set-up network: the set-up container has no network of its own (only `lo`); a relay
inside it (threads of its exec server, see `exec_server.relay`) passes TCP connections to a
Unix socket mounted from the host, where this allow-listing proxy accepts `CONNECT` only to
the package index's hosts, resolves them itself and refuses any address that is not public.
No host, bridge gateway, link-local or private address and no other container can be
reached, and no credential enters the container: an operator's upstream proxy (with its
password) is used from here."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import logging
import os
import socket
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bot.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_INDEX = "https://pypi.org/simple"
DEFAULT_HOSTS = ("pypi.org", "files.pythonhosted.org")
"""The default index and the host its files are served from."""
SOCKET_DIR = "/run/patchbot/proxy"
"""Where the host's proxy socket is mounted inside the set-up container."""
RELAY_PORT = 3128
"""The relay's port on the set-up container's loopback (the installers' HTTPS_PROXY)."""
MAX_HEADER = 16 * 1024
INTERNAL_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
              "172.16.0.0/12", "192.168.0.0/16", "255.255.255.255/32", "::/128", "::1/128",
              "fc00::/7", "fe80::/10")
)  # fmt: skip
CONNECT_TIMEOUT = 30.0


@dataclass
class IndexSettings:
    """Which index the set-up may reach, and how (from the environment)."""

    index_url: str = DEFAULT_INDEX
    """`PATCHBOT_INDEX_URL`: the package index installers use (HTTPS, no credentials)."""
    hosts: set[str] = field(default_factory=lambda: set(DEFAULT_HOSTS))
    """The index's host and `PATCHBOT_INDEX_HOSTS` (e.g. where its files are served)."""
    trusted: set[str] = field(default_factory=set)
    """Hosts the operator named: they may resolve to private addresses (a private index)."""
    upstream: str | None = None
    """The operator's own proxy (`HTTPS_PROXY` of Patchbot's environment), used from the host."""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> IndexSettings:
        env = dict(os.environ if environ is None else environ)
        url = env.get("PATCHBOT_INDEX_URL") or DEFAULT_INDEX
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise ConfigError(f"PATCHBOT_INDEX_URL {url!r} must be an https:// URL of an index")
        if parts.username or parts.password:
            raise ConfigError(
                "PATCHBOT_INDEX_URL must not hold credentials: they would enter the sandbox; "
                "give your upstream proxy (HTTPS_PROXY) the credentials instead"
            )
        extra = {
            h.strip().lower() for h in env.get("PATCHBOT_INDEX_HOSTS", "").split(",") if h.strip()
        }
        hosts = set(DEFAULT_HOSTS) if url == DEFAULT_INDEX else {parts.hostname.lower()}
        trusted = extra | (set() if url == DEFAULT_INDEX else {parts.hostname.lower()})
        upstream = env.get("HTTPS_PROXY") or env.get("https_proxy") or None
        return cls(index_url=url, hosts=hosts | extra, trusted=trusted, upstream=upstream)

    def container_environment(self) -> dict[str, str]:
        """What the set-up container's installers are told: the relay as their proxy, the
        index URL. Nothing secret: the upstream proxy and its password stay on the host."""
        proxy = f"http://127.0.0.1:{RELAY_PORT}"
        return {
            "HTTPS_PROXY": proxy,
            "https_proxy": proxy,
            "HTTP_PROXY": proxy,
            "http_proxy": proxy,
            "PIP_INDEX_URL": self.index_url,
            "UV_DEFAULT_INDEX": self.index_url,
        }


class IndexProxy:
    """`CONNECT host:port` for the allowed hosts only, to public addresses only."""

    def __init__(self, settings: IndexSettings) -> None:
        self.settings = settings
        self.refused: list[str] = []
        """What was refused, for the set-up report and tests."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CONNECT_TIMEOUT)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            writer.close()
            return
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split()
        if len(parts) != 3 or parts[0] != "CONNECT":
            await self._refuse(writer, 405, f"only CONNECT is allowed: {line[:100]}")
            return
        host, _, port_text = parts[1].rpartition(":")
        host = host.strip("[]").lower()
        if host not in self.settings.hosts or port_text != "443":
            await self._refuse(writer, 403, f"{parts[1][:100]} is not the package index")
            return
        try:
            upstream_reader, upstream_writer = await self._open(host, 443)
        except (OSError, TimeoutError, PermissionError) as error:
            await self._refuse(
                writer, 403 if isinstance(error, PermissionError) else 502, str(error)
            )
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(
            _pipe(reader, upstream_writer), _pipe(upstream_reader, writer), return_exceptions=True
        )

    async def _open(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.settings.upstream:
            return await self._through_upstream(host, port)
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [str(info[4][0]) for info in infos]
        if host not in self.settings.trusted:
            bad = [a for a in addresses if is_internal(a)]
            if bad or not addresses:
                raise PermissionError(f"{host} resolves to a non-public address {bad[:1]}")
        return await asyncio.wait_for(
            asyncio.open_connection(addresses[0], port), CONNECT_TIMEOUT
        )  # the checked address itself, never a second lookup

    async def _through_upstream(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        proxy = urlsplit(self.settings.upstream or "")
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(proxy.hostname, proxy.port or 80), CONNECT_TIMEOUT
        )
        request = f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        if proxy.username:
            token = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
            request += f"Proxy-Authorization: Basic {base64.b64encode(token).decode()}\r\n"
        writer.write((request + "\r\n").encode())
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CONNECT_TIMEOUT)
        if b" 200" not in answer.split(b"\r\n", 1)[0]:
            writer.close()
            raise OSError(f"the upstream proxy refused {host}: {answer[:80]!r}")
        return reader, writer

    async def _refuse(self, writer: asyncio.StreamWriter, status: int, why: str) -> None:
        self.refused.append(why)
        log.info("set-up proxy refused: %s", why)
        writer.write(f"HTTP/1.1 {status} Refused\r\nContent-Length: 0\r\n\r\n".encode())
        with contextlib.suppress(OSError):
            await writer.drain()
        writer.close()


def is_internal(address: str) -> bool:
    """Loopback, link-local (cloud metadata), private, shared, unspecified or multicast: an
    address on this machine, its Docker networks or its LAN, never the public index."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in INTERNAL_NETWORKS) or ip.is_multicast


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(OSError):
            writer.close()


@contextlib.asynccontextmanager
async def serve_index_proxy(settings: IndexSettings) -> AsyncIterator[tuple[Path, IndexProxy]]:
    """The proxy on a Unix socket in a fresh folder (mount it at `SOCKET_DIR`)."""
    proxy = IndexProxy(settings)
    folder = Path(tempfile.mkdtemp(prefix="patchbot-proxy-"))
    path = folder / "proxy.sock"
    server = await asyncio.start_unix_server(proxy.handle, path=str(path), limit=MAX_HEADER)
    os.chmod(folder, 0o755)  # the sandbox's user (uid 1000 when Patchbot is root) must connect
    os.chmod(path, 0o666)
    try:
        yield folder, proxy
    finally:
        server.close()
        with contextlib.suppress(OSError):
            os.unlink(path)
            os.rmdir(folder)
