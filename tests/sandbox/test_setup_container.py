"""Proved from inside a real set-up container: listeners on the host and on the Docker bridge
gateway are unreachable, directly and through the proxy; the package index is reachable; no
host variable enters."""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from collections.abc import Iterator

import docker
import pytest

from bot.sandbox.config import SandboxConfig
from bot.sandbox.docker import docker_client
from bot.sandbox.images import find_image
from bot.sandbox.launch import Launcher, environment
from bot.sandbox.models import ExecResult
from bot.sandbox.setup_network import setup_container
from bot.sandbox.workspace import sandbox_user
from bot.setup.paths import WORKSPACE
from bot.setup.proxy import RELAY_PORT

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_ready")]

PROBE = f"""
import socket, sys
host, port, how = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    if how == "direct":
        socket.create_connection((host, port), 3).close()
        print("reached")
    else:
        s = socket.create_connection(("127.0.0.1", {RELAY_PORT}), 3)
        s.sendall(f"CONNECT {{host}}:{{port}} HTTP/1.1\\r\\n\\r\\n".encode())
        print(s.recv(200).split(b"\\r\\n")[0].decode())
except OSError as error:
    print("unreachable", type(error).__name__)
"""


@pytest.fixture
def listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP listener on every host address; it records who connected."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen(8)
    accepted: list[str] = []

    def accept() -> None:
        while True:
            try:
                connection, address = server.accept()
            except OSError:
                return
            accepted.append(address[0])
            connection.close()

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()


async def test_set_up_reaches_the_index_and_nothing_on_the_host(
    listener: tuple[int, list[str]], tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, accepted = listener
    monkeypatch.setenv("PATCHBOT_TEST_SECRET", "do-not-leak")
    client = docker_client()
    ipam = docker.from_env().networks.get("bridge").attrs["IPAM"]["Config"][0]
    gateway = ipam.get("Gateway") or str(ipaddress.ip_network(ipam["Subnet"])[1])
    launcher = Launcher(client, find_image(client, "python"), SandboxConfig())
    user = sandbox_user(tmp_path)  # type: ignore[arg-type]
    async with setup_container(launcher, user, [], environment([WORKSPACE])) as (_, channel, proxy):

        async def run(command: str) -> str:
            answer = await channel.run(command, cwd="/", timeout=60, cap=65536)
            return ExecResult.model_validate(answer).stdout.strip()

        async def probe(host: str, target_port: int, how: str) -> str:
            return await run(f"python3 -c '{PROBE}' {host} {target_port} {how}")

        assert (await run("ls /sys/class/net")).split() == ["lo"]
        for host in (gateway, "127.0.0.1", "169.254.169.254"):
            assert (await probe(host, port, "direct")).startswith("unreachable")
            assert " 403 " in await probe(host, port, "proxy") + " "
        assert " 403 " in await probe("localhost", 443, "proxy") + " "
        assert (await probe("pypi.org", 443, "proxy")).startswith("HTTP/1.1 200")
        variables = await run("env")
        assert "do-not-leak" not in variables and "PATCHBOT_TEST_SECRET" not in variables
    assert accepted == []
    assert proxy is not None and proxy.refused


FLOOD = f"""
import socket
held = []
for _ in range(200):
    try:
        held.append(socket.create_connection(("127.0.0.1", {RELAY_PORT}), 3))
    except OSError:
        pass
print(len(held))
"""


async def test_the_relay_outlives_commands_and_a_flood_of_connections(
    tmp_path: os.PathLike[str],
) -> None:
    client = docker_client()
    launcher = Launcher(client, find_image(client, "python"), SandboxConfig())
    user = sandbox_user(tmp_path)  # type: ignore[arg-type]
    async with setup_container(launcher, user, [], environment([WORKSPACE])) as (_, channel, _p):

        async def run(command: str) -> str:
            answer = await channel.run(command, cwd="/", timeout=60, cap=65536)
            return ExecResult.model_validate(answer).stdout.strip()

        async def through_the_relay() -> str:
            return await run(f"python3 -c '{PROBE}' pypi.org 443 proxy")

        assert (await through_the_relay()).startswith("HTTP/1.1 200")  # a second command
        assert int(await run(f"python3 -c '{FLOOD}'")) > 0  # held until the command ends
        assert (await through_the_relay()).startswith("HTTP/1.1 200")
        owners = await run("ps -eo user= | sort -u")
        assert "nobody" in owners.split() or "65534" in owners.split()  # not the commands' user
