"""The set-up container: a writable copy of the checkout, `/env` writable, and, where the
policy allows set-up network, the package index through the allow-listing proxy (see
`bot.setup.proxy`) and nothing else: the container itself has no network but `lo`."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from docker.models.containers import Container
from docker.types import Mount

from bot.sandbox.channel import ExecChannel
from bot.sandbox.launch import Launcher
from bot.sandbox.mounted_copies import mounted_copy
from bot.setup.proxy import (
    RELAY_PORT,
    SOCKET_DIR,
    IndexProxy,
    IndexSettings,
    serve_index_proxy,
)

HOST_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
CA_IN_SANDBOX = "/run/patchbot/ca.crt"


def _ca_bundle() -> tuple[dict[str, str], list[Mount]]:
    """The host's CA bundle (for a TLS-intercepting upstream proxy), no more."""
    bundle = os.environ.get("SSL_CERT_FILE") or next(
        (path for path in HOST_CA_BUNDLES if Path(path).is_file()), None
    )
    if not bundle or not Path(bundle).is_file():
        return {}, []
    names = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO")
    mount = Mount(CA_IN_SANDBOX, str(mounted_copy(Path(bundle))), type="bind", read_only=True)
    return dict.fromkeys(names, CA_IN_SANDBOX), [mount]


@contextlib.asynccontextmanager
async def setup_container(
    launcher: Launcher, user: tuple[int, int], mounts: list[Mount], variables: dict[str, str]
) -> AsyncIterator[tuple[Container, ExecChannel, IndexProxy | None]]:
    """Start the set-up container (and its proxy when set-up may use the network); always
    remove both."""
    async with contextlib.AsyncExitStack() as stack:
        proxy = None
        if launcher.config.setup_network:
            settings = IndexSettings.from_env()
            folder, proxy = await stack.enter_async_context(serve_index_proxy(settings))
            ca_environment, ca_mounts = _ca_bundle()
            mounts = [
                *mounts,
                Mount(SOCKET_DIR, str(folder), type="bind", read_only=True),
                *ca_mounts,
            ]
            variables = {**variables, **settings.container_environment(), **ca_environment}
        container, channel = await launcher.start(
            user=user, mounts=mounts, environment=variables, network=False, writable_workspace=True
        )
        try:
            if proxy is not None:
                await channel.relay(f"{SOCKET_DIR}/proxy.sock", RELAY_PORT)
            yield container, channel, proxy
        finally:
            await launcher.remove(container)  # first: it survives a second cancellation
            await channel.close()
