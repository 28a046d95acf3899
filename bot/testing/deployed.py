"""`deploy/stack` as an operator runs it, pointed at the GitHub simulator and the scripted model
served on this machine at Docker's bridge gateway (the stack's containers reach them there,
and nothing beyond this machine). For the stack's test and its benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import secrets
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import docker

from bot.agent.scripted import ScriptedModel, ScriptedServer
from bot.testing.loopback import free_port
from bot.testing.simulator import GitHubSimulator
from bot.testing.stack import MAINTAINER

ROOT = Path(__file__).resolve().parents[2]
SOCKET = "/var/run/docker.sock"
CHECK = "patchbot/verify"


def bridge_gateway() -> str:
    """The host's address on Docker's default bridge."""
    client = docker.from_env()
    try:
        config = client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    finally:
        client.close()
    return str(config.get("Gateway") or next(ipaddress.ip_network(config["Subnet"]).hosts()))


class StackFailed(RuntimeError):
    """`deploy/stack` exited with an error; the message ends with its output."""


class DeployedStack:
    """The simulated GitHub holding `repository` (seeded from `example`, with MAINTAINER as a
    collaborator who may ask for fixes), the scripted model answering `script`, and an env
    file for `deploy/stack` under `root`; `stack(...)` runs the command with it."""

    def __init__(
        self, root: Path, example: Path, repository: str, script: list[dict[str, Any]]
    ) -> None:
        gateway = bridge_gateway()
        self.root = root
        self.example = example
        self.repository = repository
        self.project = f"pbstack{secrets.token_hex(4)}"
        self.port = free_port()
        self.github = GitHubSimulator(root / "github", host=gateway)
        self.model = ScriptedServer(ScriptedModel(script), host=gateway)
        self.env_file = root / "patchbot.env"
        self._webhook_secret = secrets.token_hex(16)
        self._installation = 0
        self._exit = contextlib.AsyncExitStack()

    async def __aenter__(self) -> DeployedStack:
        try:
            await self._exit.enter_async_context(self.github)
            await self._exit.enter_async_context(self.model)
            self._configure()
        except BaseException:
            await self._exit.aclose()
            raise
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._exit.aclose()

    def _configure(self) -> None:
        github = self.github
        github.add_repo(self.repository, source=self.example)
        owner = self.repository.split("/")[0]
        self._installation = github.add_installation(owner, [self.repository]).id
        github.add_collaborator(self.repository, MAINTAINER, "write")
        key, data = self.root / "app.pem", self.root / "data"
        key.write_text(github.private_key_pem)
        key.chmod(0o644)  # the stack's uid reads it
        data.mkdir(mode=0o777)
        data.chmod(0o777)
        self.env_file.write_text(
            f"APP_ID={github.app_id}\nWEBHOOK_SECRET={self._webhook_secret}\n"
            f"PATCHBOT_PRIVATE_KEY_FILE={key}\nGITHUB_API_URL={github.api_url}\n"
            f"PATCHBOT_MODEL=openai/scripted\nPATCHBOT_MODEL_API_BASE={self.model.api_base}\n"
            f"POSTGRES_PASSWORD={secrets.token_hex(12)}\nPATCHBOT_HOST_DIR={data}\n"
            f"PATCHBOT_DOCKER_SOCKET={SOCKET}\nPATCHBOT_DOCKER_GID={os.stat(SOCKET).st_gid}\n"
            f"PATCHBOT_PORT={self.port}\nPATCHBOT_POLL_SECONDS=0.2\n"
        )

    async def stack(self, *args: str, timeout: float = 900) -> str:
        """`deploy/stack ARGS` with this env file and project; its output."""
        done = await asyncio.to_thread(
            subprocess.run,
            [str(ROOT / "deploy" / "stack"), *args],
            env={
                **os.environ,
                "PATCHBOT_ENV_FILE": str(self.env_file),
                "PATCHBOT_STACK": self.project,
            },
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise StackFailed(
                f"deploy/stack {' '.join(args)} exited with {done.returncode}:\n"
                + done.stdout[-3000:]
                + done.stderr[-3000:]
            )
        return done.stdout

    async def up(self) -> float:
        """`deploy/stack up`, and GitHub's webhooks sent to it; the seconds it took."""
        started = time.monotonic()
        await self.stack("up")
        seconds = time.monotonic() - started
        url = f"http://127.0.0.1:{self.port}/webhooks"
        self.github.send_webhooks_to(url, self._webhook_secret)
        await self.github.announce_installation(self._installation)
        return seconds

    async def fix(self, title: str, body: str, timeout: float = 300) -> tuple[int, list[Any]]:
        """An issue opened and labelled by MAINTAINER: its number, and the check runs completed
        since, once there is one and a pull request fixes the issue (or when `timeout` is up:
        the caller checks)."""
        before = {check.id for check in self.completed_checks()}
        number = self.github.add_issue(self.repository, title, body, author=MAINTAINER).number
        await self.github.label_issue(self.repository, number, "patchbot", by=MAINTAINER)
        deadline = time.monotonic() + timeout
        while True:
            new = [check for check in self.completed_checks() if check.id not in before]
            if (new and self.pulls(number)) or time.monotonic() > deadline:
                return number, new
            await asyncio.sleep(0.2)

    def pulls(self, number: int) -> list[Any]:
        """The pull requests that fix issue `number`."""
        repo = self.github.repo(self.repository)
        return [p for p in repo.pulls.values() if f"Fixes #{number}" in (p.body or "")]

    def completed_checks(self) -> list[Any]:
        """Patchbot's completed check runs in the repository."""
        repo = self.github.repo(self.repository)
        return [c for c in repo.check_runs.values() if c.name == CHECK and c.status == "completed"]
