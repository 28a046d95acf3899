"""What the set-up writes into its copy of the tree (a version file, egg-info) reaches every
later checkout from the cache, and never shows up as a change."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bot.sandbox.config import SandboxConfig
from bot.sandbox.docker import open_sandbox
from bot.solve.checkout import Checkouts
from tests.conftest import git

from .test_baseline_gate import repository
from .test_doctor import PROJECT

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_ready")]


async def test_a_later_commit_reuses_the_environment_with_its_generated_files(
    tmp_path: Path,
) -> None:
    source = repository(tmp_path / "source", PROJECT)
    config = SandboxConfig(cache_scope=uuid.uuid4().hex)
    first = Checkouts(source, tmp_path / "first")
    async with open_sandbox(first.work, config) as sandbox:
        assert not sandbox.setup.cached
        assert (await sandbox.run_tests()).summary_line() == "1 passed, 0 failed"
    assert (first.work / "versioned" / "_version.py").is_file()
    assert first.diff() == ""  # what a candidate's patch is made from

    (source / "tests" / "test_more.py").write_text("def test_more():\n    assert True\n")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "a later commit, same dependency files")
    later = Checkouts(source, tmp_path / "later")
    assert not (later.work / "versioned" / "_version.py").exists()
    async with open_sandbox(later.work, config) as sandbox:
        assert sandbox.setup.cached
        assert (await sandbox.run_tests()).summary_line() == "2 passed, 0 failed"
    assert later.diff() == ""
