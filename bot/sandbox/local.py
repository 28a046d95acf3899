"""The sandbox a local command (`sandbox test`, `solve`, `setup doctor`) runs a checkout in:
the server's policy tightened by the checkout's own `.github/patchbot.yml`, as a run gets."""

from __future__ import annotations

from pathlib import Path

from bot.policy.load import default_policy_path, effective_policy, load_policy_file
from bot.sandbox.config import SandboxConfig, sandbox_config


def local_sandbox(
    checkout: Path, *, image: str | None = None, setup_network: bool = True
) -> SandboxConfig:
    """The sandbox of a run on `checkout` (`PATCHBOT_POLICY`, else policies/default.yml,
    merged with its `.github/patchbot.yml`); `image` pins one image instead of a choice by
    Python version, and `setup_network=False` sets up offline. PolicyError for a broken file."""
    policy = effective_policy(load_policy_file(default_policy_path()), checkout).policy
    return sandbox_config(policy, image=image, setup_network=setup_network)
