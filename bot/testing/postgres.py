"""A throwaway PostgreSQL server from Debian's packages (`apt-get install postgresql`), in a
temporary folder on a loopback port: for the store's tests and the scale benchmark."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bot.testing.loopback import free_port


def postgres_bin() -> Path:
    """`PATCHBOT_PG_BIN`, else Debian's server binaries, newest version first."""
    if "PATCHBOT_PG_BIN" in os.environ:
        return Path(os.environ["PATCHBOT_PG_BIN"])
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextlib.contextmanager
def temporary_postgres() -> Iterator[str]:
    """A PostgreSQL server (fsync off: a throwaway) while the block runs; yields its base URL,
    `postgresql://postgres:PASSWORD@127.0.0.1:PORT`, whose `postgres` database exists. The
    password is random: other users of the machine cannot connect as its superuser."""
    binaries = postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="patchbot-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    password = secrets.token_hex(16)
    (root / "password").write_text(password + "\n")
    initdb = [str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "scram-sha-256"]
    initdb += ["--pwfile", str(root / "password")]
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off"
    control = [str(binaries / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run(_as_postgres(initdb), check=True, capture_output=True)
        start = [*control, "-o", options, "-l", str(root / "log"), "-w", "start"]
        subprocess.run(_as_postgres(start), check=True, capture_output=True)
        yield f"postgresql://postgres:{password}@127.0.0.1:{port}"
    finally:
        stop = [*control, "-m", "immediate", "stop"]
        subprocess.run(_as_postgres(stop), capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


async def new_database(server: str, name: str) -> str:
    """An empty database `name` on the server at the base URL `server`; its URL."""
    import asyncpg

    admin = await asyncpg.connect(f"{server}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"{server}/{name}"
