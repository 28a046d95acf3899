"""The production-like stack as an operator starts it: `deploy/stack up` builds Patchbot's image
and PostgreSQL's with no registry, starts the server, two workers and the database in
containers, and an issue labelled on the simulated GitHub becomes a verified pull request; a
worker's sandboxes run on the Docker Engine beside it and none is left when it ends."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import secrets
import subprocess
from pathlib import Path

import docker
import pytest

from bot.agent.scripted import ScriptedModel, ScriptedServer
from bot.testing.loopback import free_port
from bot.testing.simulator import GitHubSimulator
from bot.testing.stack import MAINTAINER
from tests.e2e.conftest import EXAMPLE, REPOSITORY, issue_text, sandbox_containers, trajectory

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("docker_ready")]
ROOT = Path(__file__).resolve().parents[2]
SOCKET = "/var/run/docker.sock"


def bridge_gateway() -> str:
    """The host's address on Docker's default bridge: what the stack's containers reach the
    simulated GitHub and model at (they run on this machine, never beyond it)."""
    client = docker.from_env()
    try:
        config = client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    finally:
        client.close()
    return str(config.get("Gateway") or next(ipaddress.ip_network(config["Subnet"]).hosts()))


def stack(env_file: Path, project: str, *args: str, timeout: float = 900) -> str:
    done = subprocess.run(
        [str(ROOT / "deploy" / "stack"), *args],
        env={**os.environ, "PATCHBOT_ENV_FILE": str(env_file), "PATCHBOT_STACK": project},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


async def test_the_stack_turns_a_labelled_issue_into_a_pull_request(tmp_path: Path) -> None:
    gateway, port, project = bridge_gateway(), free_port(), f"pbtest{secrets.token_hex(4)}"
    model = ScriptedServer(ScriptedModel(trajectory("fix_median")), host=gateway)
    async with GitHubSimulator(tmp_path / "github", host=gateway) as github, model:
        github.add_repo(REPOSITORY, source=EXAMPLE)
        installation = github.add_installation(REPOSITORY.split("/")[0], [REPOSITORY])
        github.add_collaborator(REPOSITORY, MAINTAINER, "write")
        number = github.add_issue(REPOSITORY, *issue_text(), author=MAINTAINER).number
        key, data = tmp_path / "app.pem", tmp_path / "data"
        key.write_text(github.private_key_pem)
        key.chmod(0o644)
        data.mkdir(mode=0o777)
        data.chmod(0o777)
        webhook_secret = secrets.token_hex(16)
        env_file = tmp_path / "patchbot.env"
        env_file.write_text(
            f"APP_ID={github.app_id}\nWEBHOOK_SECRET={webhook_secret}\n"
            f"PATCHBOT_PRIVATE_KEY_FILE={key}\nGITHUB_API_URL={github.api_url}\n"
            f"PATCHBOT_MODEL=openai/scripted\nPATCHBOT_MODEL_API_BASE={model.api_base}\n"
            f"POSTGRES_PASSWORD={secrets.token_hex(12)}\nPATCHBOT_HOST_DIR={data}\n"
            f"PATCHBOT_DOCKER_SOCKET={SOCKET}\nPATCHBOT_DOCKER_GID={os.stat(SOCKET).st_gid}\n"
            f"PATCHBOT_PORT={port}\nPATCHBOT_POLL_SECONDS=0.2\n"
        )
        await asyncio.to_thread(stack, env_file, project, "up")
        try:
            github.send_webhooks_to(f"http://127.0.0.1:{port}/webhooks", webhook_secret)
            await github.announce_installation(installation.id)
            await github.label_issue(REPOSITORY, number, "patchbot", by=MAINTAINER)
            repo = github.repo(REPOSITORY)
            for _ in range(600):  # the pull request, then its check run
                checks = [c for c in repo.check_runs.values() if c.name == "patchbot/verify"]
                if repo.pulls and checks and checks[0].status == "completed":
                    break
                await asyncio.sleep(0.5)
            logs = await asyncio.to_thread(stack, env_file, project, "logs", "--tail", "40")
            assert len(repo.pulls) == 1, logs
            pull = next(iter(repo.pulls.values()))
            assert pull.head.startswith(f"patchbot/issue-{number}-") and pull.state == "open"
            assert f"Fixes #{number}" in (pull.body or "")
            assert [c.conclusion for c in checks] == ["success"]
        finally:
            hosts = stack_hostnames(project)
            await asyncio.to_thread(stack, env_file, project, "down", "--volumes")
    assert stack_hostnames(project) == set()
    left = [c for c in sandbox_containers() if owner_host(c) in hosts]
    assert left == [], "the workers left sandboxes behind"


def stack_hostnames(project: str) -> set[str]:
    """The hostnames of the stack's containers: the host part of their sandboxes' owner."""
    client = docker.from_env()
    try:
        found = client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={project}"}
        )
        return {str(c.attrs["Config"]["Hostname"]) for c in found}
    finally:
        client.close()


def owner_host(container_id: str) -> str:
    client = docker.from_env()
    try:
        owner = client.containers.get(container_id).labels.get("patchbot.owner", "")
    except docker.errors.NotFound:
        return ""
    finally:
        client.close()
    return str(owner).split(":")[0]
