"""What a sandbox may do and how it is set up: the policy's `sandbox` section, for one run."""

from __future__ import annotations

from pydantic import BaseModel, Field

from bot.policy.model import Policy


class SandboxConfig(BaseModel):
    """Limits and commands of one sandbox. Every default is the safe one."""

    image: str = "python"
    """Name of the image's folder under `sandbox_images/` (built by `patchbot images build`)."""
    images: list[str] = Field(default_factory=list)
    """Other images the set-up may use instead, when the commit's Python versions call for
    another interpreter (an old commit on an older Python); only built ones are considered."""
    cache_scope: str = ""
    """Who may share a cached set-up environment, e.g. the repository's full name: set-up
    runs the repository's own code, so one repository never reuses another's environment."""
    setup_network: bool = True
    """Whether the set-up phase (installing dependencies) may use the network. Tests never may."""
    setup_command: str | None = None
    """Shell command that installs the repository's dependencies into `/env`; detected if unset."""
    test_command: str | None = None
    """Shell command that runs the test suite; detected (pytest, unittest) if unset."""
    setup_timeout: float = Field(default=900.0, gt=0)
    """Seconds the set-up phase may take before it is killed."""
    test_timeout: float = Field(default=600.0, gt=0)
    """Seconds one run of the test suite may take before it is killed."""
    exec_timeout: float = Field(default=120.0, gt=0)
    """Seconds one command may take when the caller gives no timeout."""
    memory_mb: int = Field(default=2048, ge=64)
    """Memory limit of the container in MiB (swap included)."""
    pids_limit: int = Field(default=512, ge=16)
    """Most processes and threads the container may have at once."""
    cpus: float = Field(default=2.0, gt=0)
    """CPU cores the container may use."""
    tmpfs_mb: int = Field(default=1024, ge=16)
    """Size of the writable `/tmp` in MiB (a tmpfs: what is written there counts as memory)."""
    disk_mb: int = Field(default=4096, ge=16)
    """MiB the sandbox may write in the checkout at `/workspace`: new files and the files it
    changes (each whole), not what the checkout held already."""
    env_disk_mb: int = Field(default=8192, ge=16)
    """MiB the set-up phase may write into `/env`, where it installs the dependencies."""
    output_cap: int = Field(default=64 * 1024, ge=1024)
    """Bytes kept of each of a command's stdout and stderr; the middle is cut beyond this."""


def sandbox_config(
    policy: Policy, *, cache_scope: str = "", image: str | None = None, setup_network: bool = True
) -> SandboxConfig:
    """The sandbox a run on this policy gets. `cache_scope` says who may share its set-up
    environment; `image` pins one image instead of a choice by Python version; with
    `setup_network=False` set-up is offline even where the policy allows the network."""
    box = policy.sandbox
    return SandboxConfig(
        image=image or box.image,
        images=[] if image else [name for name in box.images if name != box.image],
        cache_scope=cache_scope,
        setup_network=box.setup_network and setup_network,
        setup_command=policy.setup_command,
        test_command=policy.test_command,
        setup_timeout=box.setup_timeout,
        test_timeout=box.test_timeout,
        exec_timeout=box.exec_timeout,
        memory_mb=box.memory_mb,
        pids_limit=box.pids_limit,
        cpus=box.cpus,
    )
