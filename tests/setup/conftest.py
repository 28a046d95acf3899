"""Small repositories written by the tests themselves, for the set-up planner's sources."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

WriteRepo = Callable[[dict[str, str]], Path]


@pytest.fixture
def write_repo(tmp_path: Path) -> WriteRepo:
    """A folder holding the given files (path -> text)."""

    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "repo"
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        root.mkdir(exist_ok=True)
        return root

    return write
