"""The production-like stack as an operator starts it: `deploy/stack up` builds Patchbot's image
and PostgreSQL's with no registry, starts the server, two workers and the database in
containers, and an issue labelled on the simulated GitHub becomes a verified pull request; a
worker's sandboxes run on the Docker Engine beside it and none is left when it ends."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from bot.testing.deployed import DeployedStack
from tests.e2e.conftest import EXAMPLE, REPOSITORY, issue_text, sandbox_containers, trajectory

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("docker_ready")]


async def test_the_stack_turns_a_labelled_issue_into_a_pull_request(tmp_path: Path) -> None:
    async with DeployedStack(tmp_path, EXAMPLE, REPOSITORY, trajectory("fix_median")) as deployed:
        await deployed.up()
        try:
            number, checks = await deployed.fix(*issue_text())
            logs = await deployed.stack("logs", "--tail", "40")
            pulls = deployed.pulls(number)
            assert len(pulls) == 1, logs
            assert pulls[0].head.startswith(f"patchbot/issue-{number}-")
            assert pulls[0].state == "open"
            assert [c.conclusion for c in checks] == ["success"], logs
        finally:
            hosts = stack_hostnames(deployed.project)
            await deployed.stack("down", "--volumes")
    assert stack_hostnames(deployed.project) == set()
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
