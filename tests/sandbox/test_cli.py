"""`patchbot sandbox ...` and `patchbot images ...` as a user runs them: real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.sandbox.images import SANDBOX_UID, ImageSpec, discover

ROOT = Path(__file__).resolve().parents[2]


def patchbot(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def tree_state(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in repo.rglob("*") if p.is_file()}


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_sandbox_test_prints_summary_and_leaves_the_repository_alone(
    example_repo: Callable[[str], Path],
) -> None:
    repo = example_repo("mixed")
    before = tree_state(repo)
    done = patchbot("sandbox", "test", str(repo))
    assert done.returncode == 1, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "3 passed, 3 failed, 1 skipped"
    assert "FAILED tests/test_mixed.py::test_wrong_arithmetic" in done.stdout
    assert tree_state(repo) == before


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_sandbox_test_exits_zero_when_all_pass_and_emits_json(
    example_repo: Callable[[str], Path],
) -> None:
    done = patchbot("sandbox", "test", "--json", str(example_repo("calc")))
    assert done.returncode == 0, done.stderr
    assert '"outcome": "passed"' in done.stdout


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_sandbox_exec_streams_output_and_passes_the_exit_code(
    example_repo: Callable[[str], Path],
) -> None:
    repo = example_repo("calc")
    done = patchbot(
        "sandbox", "exec", str(repo), "--", "sh", "-c", "echo out; echo err >&2; exit 7"
    )
    assert done.returncode == 7
    assert done.stdout == "out\n"
    assert "err" in done.stderr
    timed = patchbot("sandbox", "exec", str(repo), "--timeout", "1", "--", "sleep", "30")
    assert timed.returncode == 124
    assert "timeout" in timed.stderr


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_sandbox_exec_writes_in_a_copy_owned_as_in_a_run_and_leaves_the_checkout_alone(
    example_repo: Callable[[str], Path],
) -> None:
    repo = example_repo("calc")
    before = tree_state(repo)
    owners = {path: path.lstat().st_uid for path in [repo, *repo.rglob("*")]}
    script = (
        "touch /workspace/x && echo broken > /workspace/calc/__init__.py && "
        "stat -c %u /workspace/x && id -u && ls -A /workspace && ls -A /workspace/.git"
    )
    done = patchbot("sandbox", "exec", str(repo), "--", "sh", "-c", script)
    assert done.returncode == 0, done.stderr
    file_owner, user, *listing = done.stdout.split()
    expected = SANDBOX_UID if os.geteuid() == 0 else os.getuid()
    assert int(file_owner) == int(user) == expected
    assert {"x", "calc", "pyproject.toml", ".git", "HEAD"} <= set(listing)
    assert "hooks" not in listing  # the copy's .git (versions come from it), never its hooks
    assert tree_state(repo) == before
    assert {path: path.lstat().st_uid for path in [repo, *repo.rglob("*")]} == owners


def test_path_that_is_not_a_git_repository_is_one_clear_line(tmp_path: Path) -> None:
    done = patchbot("sandbox", "test", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "not inside a git repository" in done.stderr


def test_unknown_image_name_is_refused(tmp_path: Path) -> None:
    done = patchbot("images", "build", "no-such-image")
    assert done.returncode == 2
    assert "no-such-image" in done.stderr


def test_help_answers_without_importing_heavy_libraries() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "sandbox" in done.stdout
    assert not imported & {"litellm", "docker", "aiohttp", "asyncpg"}


def test_image_hash_changes_with_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "python"
    folder.mkdir()
    (folder / "image.toml").write_text('suite = "bookworm"\npackages = ["python3"]\n')
    spec = ImageSpec("python", folder)
    first = spec.content_hash()
    assert spec.content_hash() == first
    (folder / "image.toml").write_text('suite = "bookworm"\npackages = ["python3", "git"]\n')
    assert spec.content_hash() != first
    assert [s.name for s in discover(tmp_path)] == ["python"]


@pytest.mark.docker
@pytest.mark.usefixtures("docker_ready")
def test_images_build_skips_an_unchanged_image() -> None:
    done = patchbot("images", "build", "python")
    assert done.returncode == 0, done.stderr
    assert "python: up to date" in done.stdout
