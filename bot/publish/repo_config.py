"""`.github/patchbot.yml`: what a repository says about runs on it (default branch only)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.errors import ConfigError
from bot.sandbox.repo_files import read_repo_text

CONFIG_PATH = ".github/patchbot.yml"


class RepoConfig(BaseModel):
    """The repository's own settings. None of them can widen what a run may do."""

    model_config = ConfigDict(extra="forbid")

    draft: bool = False
    """Open pull requests as drafts."""
    test_command: str | None = None
    """Shell command that runs the tests in the sandbox; detected when unset."""
    setup_command: str | None = None
    """Shell command that installs the dependencies into `/env`; detected when unset."""
    setup_network: bool = True
    """Set to false to install dependencies with no network (the server may forbid it anyway)."""


def load_repo_config(checkout: Path) -> RepoConfig:
    """The checkout's `.github/patchbot.yml` (a link or a missing file means defaults)."""
    text = read_repo_text(checkout, CONFIG_PATH)
    if text is None:
        return RepoConfig()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{CONFIG_PATH}{where} is not valid YAML: {error}") from error
    if data is None:
        return RepoConfig()
    if not isinstance(data, dict):
        raise ConfigError(f"{CONFIG_PATH} must be a mapping of settings, not {type(data).__name__}")
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"`{'.'.join(str(part) for part in item['loc'])}`: {item['msg']}"
            for item in error.errors()
        )
        raise ConfigError(f"{CONFIG_PATH}: {problems}") from error
