"""The solve run's checkouts: real git, the repository at PATH only ever read."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.solve.checkout import Checkouts


def make_repo(path: Path) -> Path:
    (path / "pkg").mkdir(parents=True)
    (path / "pkg" / "mod.py").write_text("X = 1\n")
    (path / "README").write_text("readme\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "one"]):
        subprocess.run(
            ["git", "-c", "user.name=T", "-c", "user.email=t@e.invalid", *args],
            cwd=path,
            check=True,
        )
    return path


def test_the_patch_holds_edits_new_and_deleted_files_but_no_caches(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    checkouts = Checkouts(repo, tmp_path / "run")
    work = checkouts.work
    (work / "pkg" / "mod.py").write_text("X = 2\n")
    (work / "pkg" / "new.py").write_text("Y = 1\n")
    (work / "README").unlink()
    (work / "pkg" / "__pycache__").mkdir()
    (work / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\x00")
    patch = checkouts.diff()
    assert "+X = 2" in patch and "pkg/new.py" in patch and "deleted file mode" in patch
    assert "__pycache__" not in patch
    applied = checkouts.candidate("candidate-1", patch)
    assert (applied / "pkg" / "mod.py").read_text() == "X = 2\n"
    assert not (applied / "README").exists()


def test_the_agent_cannot_steer_host_git_through_its_own_git_dir(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    checkouts = Checkouts(repo, tmp_path / "run")
    marker = tmp_path / "pwned"
    config = checkouts.work / ".git" / "config"
    config.write_text(config.read_text() + f"[core]\n\tfsmonitor = touch {marker}\n")
    (checkouts.work / "pkg" / "mod.py").write_text("X = 3\n")
    assert "+X = 3" in checkouts.diff()
    assert not marker.exists()


def test_the_repository_is_never_written_and_shares_no_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    before = {p: p.stat() for p in repo.rglob("*")}
    checkouts = Checkouts(repo, tmp_path / "run")
    for path in checkouts.work.rglob("*"):
        if path.is_file():
            os.chmod(path, 0o600)  # what a sandbox taking ownership would do to a hard link
    (checkouts.work / "pkg" / "mod.py").write_text("X = 9\n")
    checkouts.diff()
    after = {p: p.stat() for p in repo.rglob("*")}
    assert before.keys() == after.keys()
    for path, stat in before.items():
        assert (after[path].st_mode, after[path].st_mtime_ns) == (stat.st_mode, stat.st_mtime_ns)
    assert (repo / "pkg" / "mod.py").read_text() == "X = 1\n"


def test_a_folder_without_commits_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(ConfigError, match="not a git repository"):
        Checkouts(tmp_path / "plain", tmp_path / "run")


def test_a_patch_applied_to_a_checkout_a_sandbox_saw_runs_none_of_its_git_config(
    tmp_path: Path,
) -> None:
    """Verification applies the patch on the host to a checkout that a sandbox, started ahead,
    has mounted: a clean filter configured in that checkout's .git must not run."""
    repo = make_repo(tmp_path / "repo")
    checkouts = Checkouts(repo, tmp_path / "run")
    (checkouts.work / "pkg" / "mod.py").write_text("X = 2\n")
    patch = checkouts.diff()
    seen = checkouts.fresh(tmp_path / "run" / "candidate-1")
    marker = tmp_path / "ran-on-the-host"
    with (seen / ".git" / "config").open("a") as config:
        config.write(f'[filter "x"]\n\tclean = touch {marker}; cat\n\tsmudge = cat\n')
    (seen / ".gitattributes").write_text("* filter=x\n")
    checkouts.apply(seen, patch)
    assert (seen / "pkg" / "mod.py").read_text() == "X = 2\n"
    assert not marker.exists()
