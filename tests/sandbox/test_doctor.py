"""`patchbot setup doctor` and a maintainer's own set-up command, as a user runs them."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest

from .test_baseline_gate import repository

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_ready")]
ROOT = Path(__file__).resolve().parents[2]

# A project that reads its own version from its package metadata, and whose build writes a
# version file into the tree (as setuptools-scm does), which .gitignore ignores.
PROJECT = {
    "pyproject.toml": (
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "versioned"\nversion = "1.2.3"\n'
        '[project.optional-dependencies]\ntest = ["pytest", "tomli-w==1.0.0"]\n'
    ),
    "setup.py": (
        "import pathlib, setuptools\n"
        "pathlib.Path('versioned/_version.py').write_text('VERSION = \"1.2.3\"\\n')\n"
        "setuptools.setup()\n"
    ),
    ".gitignore": "versioned/_version.py\n",
    "versioned/__init__.py": (
        "from importlib.metadata import version\n"
        "from versioned._version import VERSION\n"
        "__version__ = version('versioned')\n"
    ),
    "tests/test_version.py": (
        "import tomli_w, versioned\n"
        "def test_metadata_and_version_file():\n"
        "    assert versioned.__version__ == versioned.VERSION == '1.2.3'\n"
    ),
}


def patchbot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_doctor_reports_the_plan_tries_tests_and_a_snippet(tmp_path: Path) -> None:
    fresh = PROJECT["pyproject.toml"] + f"# {uuid.uuid4().hex}: a cache key of this test run\n"
    repo = repository(tmp_path / "repo", {**PROJECT, "pyproject.toml": fresh})
    done = patchbot("setup", "doctor", "--repo", str(repo), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    try:
        assert report["ok"] and report["collected"] == 1 and report["passed"] == 1
        assert report["errors"] == 0 and report["failed"] == 0
        assert report["plan"]["install"]["extras"] == ["test"]
        assert [t["outcome"] for t in report["tries"]] == ["ok"]
        assert report["cache_key"] and "setup_command:" in report["snippet"]
        assert "set-up: try 1" in done.stderr  # progress while it works
        again = patchbot("setup", "doctor", "--repo", str(repo))
        assert again.returncode == 0 and "(reused)" in again.stdout and "1 passed" in again.stdout
    finally:  # the environment this test made, whatever it asserted
        client = docker.from_env()
        for name in (
            f"patchbot-env-{report['cache_key']}",
            f"patchbot-env-{report['cache_key']}-ready",
        ):
            with contextlib.suppress(docker.errors.NotFound):
                client.volumes.get(name).remove(force=True)
        client.close()


def test_doctor_exits_one_when_no_plan_works_and_two_on_usage(tmp_path: Path) -> None:
    repo = repository(tmp_path / "repo", {"pytest.ini": "[pytest]\n", "tests/test_x.py": "X = 1\n"})
    done = patchbot("setup", "doctor", "--repo", str(repo))
    assert done.returncode == 1
    assert "no_tests" in done.stdout and "# .github/patchbot.yml" in done.stdout
    usage = patchbot("setup", "doctor", "--repo", str(repo), "--commit", "no-such-commit")
    assert usage.returncode == 2 and "no-such-commit" in usage.stderr
    assert "Traceback" not in usage.stderr


def test_a_maintainers_pip_command_runs_as_written_and_leaves_no_trace_in_the_tree(
    tmp_path: Path,
) -> None:
    files = {
        **PROJECT,
        ".github/patchbot.yml": "setup_command: pip install -e '.[test]'\n",
    }
    repo = repository(tmp_path / "repo", files)
    done = patchbot("sandbox", "test", str(repo))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "1 passed, 0 failed"
    status = subprocess.run(
        ["git", "status", "--porcelain", "--ignored"], cwd=repo, capture_output=True, text=True
    )
    assert status.stdout == ""  # the checkout itself never saw the build
