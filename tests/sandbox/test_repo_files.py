"""Reading an untrusted checkout from the host: links, FIFOs and escapes are refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.repo_files import is_dir, iter_repo_files, read_repo_bytes, read_repo_text


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    secret = tmp_path / "host-secret"
    secret.write_text("host secret")
    repo = tmp_path / "repo"
    (repo / "pkg" / "sub").mkdir(parents=True)
    (repo / "pkg" / "sub" / "mod.py").write_text("print('hi')\n")
    (repo / "link-to-secret").symlink_to(secret)
    (repo / "linked-dir").symlink_to(tmp_path)
    os.mkfifo(repo / "pipe")
    return repo


def test_regular_files_inside_the_checkout_are_read(checkout: Path) -> None:
    assert read_repo_text(checkout, "pkg/sub/mod.py") == "print('hi')\n"
    assert read_repo_bytes(checkout, "pkg/sub/mod.py") == b"print('hi')\n"


@pytest.mark.parametrize(
    "rel",
    [
        "link-to-secret",  # a link to a host file
        "linked-dir/host-secret",  # a link among the folders on the way
        "pipe",  # would block forever if opened for reading naively
        "pkg",  # a folder
        "../host-secret",
        "pkg/../../host-secret",
        str(Path("/etc/hostname")),
        "",
        "missing.txt",
    ],
)
def test_anything_but_a_regular_file_inside_reads_as_missing(checkout: Path, rel: str) -> None:
    assert read_repo_text(checkout, rel) is None


def test_a_file_over_the_limit_reads_as_missing(checkout: Path) -> None:
    (checkout / "big.txt").write_bytes(b"x" * 101)
    assert read_repo_bytes(checkout, "big.txt", limit=100) is None
    assert read_repo_bytes(checkout, "big.txt", limit=101) == b"x" * 101


def test_walk_skips_tool_folders_and_does_not_follow_links(checkout: Path) -> None:
    (checkout / ".git").mkdir()
    (checkout / ".git" / "config").write_text("")
    (checkout / "node_modules" / "x").mkdir(parents=True)
    (checkout / "node_modules" / "x" / "test_y.py").write_text("")
    assert sorted(iter_repo_files(checkout)) == [
        "link-to-secret",
        "pipe",
        "pkg/sub/mod.py",
    ]  # listed by name; reading them is refused above
    assert len(list(iter_repo_files(checkout, limit=2))) == 2


def test_folder_reached_through_a_link_is_not_a_folder_of_the_checkout(checkout: Path) -> None:
    assert is_dir(checkout, "pkg/sub") and is_dir(checkout, "pkg/./sub/")
    assert not is_dir(checkout, "linked-dir")
    assert not is_dir(checkout, "linked-dir/repo/pkg")
    assert not is_dir(checkout, "pkg/../pkg")
