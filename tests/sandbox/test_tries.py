"""Tries against the real index: a requirement that cannot be installed and that the tests
never import is dropped, and the suite runs."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from bot.sandbox.config import SandboxConfig
from bot.sandbox.docker import open_sandbox

from .test_baseline_gate import repository

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_ready")]


async def test_an_uninstallable_unused_requirement_is_dropped_on_the_second_try(
    tmp_path: Path,
) -> None:
    repo = repository(
        tmp_path / "repo",
        {
            "requirements-dev.txt": "tomli-w==1.0.0\ntypes-patchbot-gone-0000==1.0\n",
            "tests/test_a.py": "import tomli_w\ndef test_a():\n    assert not tomli_w.dumps({})\n",
        },
    )
    async with open_sandbox(repo, SandboxConfig(cache_scope=uuid.uuid4().hex)) as sandbox:
        report = sandbox.setup_report
        assert report is not None
        assert [t.outcome for t in report.tries] == ["install_failed", "ok"]
        assert report.tries[1].rule.startswith("drop requirements")
        assert report.install is not None
        assert report.install.dropped == ["types-patchbot-gone-0000"]
        assert (await sandbox.run_tests()).summary_line() == "1 passed, 0 failed"


async def test_the_installed_packages_are_compiled_once_by_set_up(tmp_path: Path) -> None:
    """Test sandboxes mount the venv read-only and write no bytecode: without set-up's
    compiling, every test run would compile each imported dependency again."""
    repo = repository(
        tmp_path / "repo",
        {
            "requirements-dev.txt": "tomli-w==1.0.0\n",
            "tests/test_a.py": "import tomli_w\ndef test_a():\n    assert not tomli_w.dumps({})\n",
        },
    )
    probe = "import os, tomli_w; print(os.path.exists(tomli_w.__cached__), tomli_w.__file__)"
    async with open_sandbox(repo, SandboxConfig(cache_scope=uuid.uuid4().hex)) as sandbox:
        result = await sandbox.exec(f"python -c {probe!r}")
        assert result.stdout.split() == [
            "True",
            "/env/venv/lib/python3.11/site-packages/tomli_w/__init__.py",
        ]
