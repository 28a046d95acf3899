"""The allow-listing proxy on the host: CONNECT to the index's hosts only, public addresses
only unless the operator named the host, an upstream proxy's password used from the host."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.setup.proxy import IndexSettings, serve_index_proxy


async def connect(socket_path: Path, target: str) -> bytes:
    reader, writer = await asyncio.open_unix_connection(str(socket_path))
    writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    await writer.drain()
    answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    writer.close()
    return answer.split(b"\r\n", 1)[0]


async def test_only_the_index_hosts_on_443_are_let_through() -> None:
    settings = IndexSettings(hosts={"localhost"})
    async with serve_index_proxy(settings) as (folder, proxy):
        sock = folder / "proxy.sock"
        assert b" 403 " in await connect(sock, "169.254.169.254:80")
        assert b" 403 " in await connect(sock, "172.17.0.1:443")
        assert b" 403 " in await connect(sock, "example.org:443")
        assert b" 403 " in await connect(sock, "localhost:8080")
        # an allowed name that resolves to a loopback address is refused all the same
        assert b" 403 " in await connect(sock, "localhost:443")
    assert any("non-public" in why for why in proxy.refused)


async def test_plain_requests_are_refused() -> None:
    async with serve_index_proxy(IndexSettings()) as (folder, _):
        reader, writer = await asyncio.open_unix_connection(str(folder / "proxy.sock"))
        writer.write(b"GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\n\r\n")
        assert b" 405 " in await reader.readuntil(b"\r\n\r\n")
        writer.close()


async def test_the_upstream_proxy_gets_its_credentials_from_the_host_only() -> None:
    seen: list[bytes] = []

    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(upstream, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    env = {"HTTPS_PROXY": f"http://ops:s3cret@127.0.0.1:{port}"}
    settings = IndexSettings.from_env(env)
    assert "s3cret" not in str(settings.container_environment())
    async with serve_index_proxy(settings) as (folder, _):
        assert b" 200 " in await connect(folder / "proxy.sock", "pypi.org:443")
    server.close()
    token = base64.b64encode(b"ops:s3cret").decode()
    assert f"Proxy-Authorization: Basic {token}".encode() in seen[0]
    assert seen[0].startswith(b"CONNECT pypi.org:443 ")


def test_index_url_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="credentials"):
        IndexSettings.from_env({"PATCHBOT_INDEX_URL": "https://u:p@pypi.example.com/simple"})
    with pytest.raises(ConfigError, match="https"):
        IndexSettings.from_env({"PATCHBOT_INDEX_URL": "http://pypi.example.com/simple"})
    private = IndexSettings.from_env(
        {"PATCHBOT_INDEX_URL": "https://pypi.corp/simple", "PATCHBOT_INDEX_HOSTS": "files.corp"}
    )
    assert private.hosts == {"pypi.corp", "files.corp"} == private.trusted
    assert private.container_environment()["UV_DEFAULT_INDEX"] == "https://pypi.corp/simple"
