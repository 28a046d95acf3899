"""The set-up phase and its cache: the repository's dependencies installed into a volume at
`/env`, reused while the image, the set-up command, the user, the repository and the
dependency files stay the same."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import docker.errors
from docker.models.images import Image
from docker.types import Mount
from pydantic import BaseModel

from bot.errors import SetupFailed
from bot.repo_files import read_repo_bytes
from bot.sandbox.config import SandboxConfig
from bot.sandbox.disk import private_folder
from bot.sandbox.launch import LABEL, Launcher, environment
from bot.sandbox.setup_network import setup_container
from bot.sandbox.setup_phase import CHECKOUT, ENV_FORMAT, SetupPhase
from bot.sandbox.testrun import TestPlan
from bot.setup.model import SetupReport
from bot.setup.planner import PLANNER_VERSION, Planned, pythonpath
from bot.setup.progress import SetupProgress
from bot.setup.repository import commit_date
from bot.setup.snippet import snippet

ENV_LABEL = "patchbot.env"
ENV_PREFIX = "patchbot-env-"
"""An environment's volume is named this and its key."""
REPORT_LABEL = "patchbot.setup.report"
"""On the `-ready` volume: the set-up report (JSON) of the run that made the environment."""


class SetupInfo(BaseModel):
    """How the set-up phase went for this sandbox."""

    cached: bool
    """True when an environment for the same dependency files was reused."""
    duration: float
    """Seconds spent on set-up (checking the cache, or installing)."""
    volume: str | None
    """The Docker volume holding the environment, or None when there was nothing to install."""
    report: SetupReport | None = None
    """The plan's sources, each try and its result (from the run that made the environment)."""


@contextlib.asynccontextmanager
async def _key_lock(key: str) -> AsyncIterator[None]:
    """One set-up per dependency key at a time on this machine."""
    directory = private_folder("patchbot-locks")
    # No following links, no truncating: the folder is in a shared /tmp.
    handle = os.open(directory / f"{key}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)


def environment_key(
    image: Image, planned: Planned, config: SandboxConfig, workspace: Path, uid: int
) -> str:
    """Names the environment: the image, the planner's and the environment's versions, the
    configured commands, the user, the cache scope and the content of every file the plan was
    read from."""
    parts = [
        image.id,
        PLANNER_VERSION,
        ENV_FORMAT,
        config.setup_command,
        config.test_command,
        uid,
        config.cache_scope,
    ]
    digest = hashlib.sha256("\0".join(str(p) for p in parts).encode() + b"\0")
    for name in sorted(planned.inputs):
        content = read_repo_bytes(workspace, name) or b""  # no links, no FIFOs: untrusted tree
        digest.update(name.encode() + b"\0" + content + b"\0")
    return digest.hexdigest()[:24]


def volume_exists(client: docker.DockerClient, name: str) -> bool:
    try:
        client.volumes.get(name)
    except docker.errors.NotFound:
        return False
    return True


def remove_volume(client: docker.DockerClient, name: str) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        client.volumes.get(name).remove(force=True)


async def prepare_environment(
    launcher: Launcher,
    workspace: Path,
    planned: Planned,
    test_plan: TestPlan,
    user: tuple[int, int],
    progress: SetupProgress | None = None,
) -> SetupInfo:
    """Reuse the environment for these dependency files, or set it up in a new volume.

    Volumes cannot be relabelled, so a finished environment `X` is marked by an empty
    volume `X-ready` (made only after set-up succeeded, and carrying its report in a label);
    an `X` without it is a leftover of a killed set-up and is made anew.
    """
    started = time.monotonic()
    client = launcher.client
    key = environment_key(launcher.image, planned, launcher.config, workspace, user[0])
    name = f"{ENV_PREFIX}{key}"
    labels = {LABEL: "1", ENV_LABEL: key}
    async with _key_lock(key):
        ready = await asyncio.to_thread(_ready_report, client, f"{name}-ready")
        if ready is not None:
            ready.cached, ready.seconds = True, round(time.monotonic() - started, 2)
            return SetupInfo(cached=True, duration=ready.seconds, volume=name, report=ready)
        await asyncio.to_thread(remove_volume, client, name)
        await asyncio.to_thread(client.volumes.create, name, labels=labels)
        try:
            report = await _run_setup(launcher, workspace, planned, test_plan, user, name, progress)
        except BaseException:
            await asyncio.to_thread(remove_volume, client, name)
            raise
        report.cache_key = key
        report.seconds = round(time.monotonic() - started, 1)
        if not report.ok:
            await asyncio.to_thread(remove_volume, client, name)
            raise SetupFailed(failure_message(report, launcher.config), report.model_dump())
        ready_labels = {**labels, REPORT_LABEL: report.model_dump_json()}
        await asyncio.to_thread(client.volumes.create, f"{name}-ready", labels=ready_labels)
    return SetupInfo(cached=False, duration=report.seconds, volume=name, report=report)


def _ready_report(client: docker.DockerClient, name: str) -> SetupReport | None:
    """The report of a finished environment, or None when there is none."""
    try:
        volume = client.volumes.get(name)
    except docker.errors.NotFound:
        return None
    text = (volume.attrs.get("Labels") or {}).get(REPORT_LABEL)
    try:
        return SetupReport.model_validate_json(text) if text else SetupReport(ok=True)
    except ValueError:
        return SetupReport(ok=True)


def failure_message(report: SetupReport, config: SandboxConfig) -> str:
    """Why set-up failed, what was tried, and the `.github/patchbot.yml` lines that would fix it."""
    tries = "\n".join(
        f"  {t.number}. {t.rule}: {t.outcome}" + (f" ({t.decisive[-1]})" if t.decisive else "")
        for t in report.tries
    )
    network = (
        ""
        if config.setup_network
        else " (set-up has no network: the policy's `sandbox.setup_network`)"
    )
    return (
        f"set-up failed{network}: {report.error}\nTried:\n{tries}\n"
        "Set the commands that work in `.github/patchbot.yml` (the policy's `setup_command` and "
        f"`test_command`), for example:\n{snippet(report)}"
    )


async def _run_setup(
    launcher: Launcher,
    workspace: Path,
    planned: Planned,
    test_plan: TestPlan,
    user: tuple[int, int],
    volume: str,
    progress: SetupProgress | None,
) -> SetupReport:
    config = launcher.config
    variables = environment(pythonpath(workspace))
    variables.update(planned.test.env if config.test_command is None else {})
    if not (workspace / ".git").is_dir():  # setuptools-scm and hatch-vcs read the version from git
        variables["SETUPTOOLS_SCM_PRETEND_VERSION"] = "0.0.0"
    variables["UV_CACHE_DIR"] = "/tmp/uv-cache"
    variables["UV_NO_PROGRESS"] = "1"
    mounts = [
        Mount(CHECKOUT, str(workspace), type="bind", read_only=True),
        Mount("/env", volume, type="volume"),
    ]
    report = SetupReport(
        sources=planned.sources, image=config.image, test=planned.test, install=planned.install
    )
    async with setup_container(launcher, user, mounts, variables) as (_, channel, _proxy):
        phase = SetupPhase(
            channel,
            workspace,
            test_plan,
            config=config,
            commit_date=commit_date(workspace),
            progress=progress,
        )
        return await phase.run(planned.install, report)
