"""A sandbox opened ahead of its use: open at once, closed once, used or not; an error opening
it is raised where it is used."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.errors import SandboxError
from bot.sandbox.config import SandboxConfig
from bot.solve.ahead import OpenedAhead


class Opener:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.events: list[str] = []

    @contextlib.asynccontextmanager
    async def __call__(self, workspace: Path, config: SandboxConfig) -> AsyncIterator[Any]:
        self.events.append("open")
        await asyncio.sleep(0.01)
        if self.fail:
            raise SandboxError("no engine")
        try:
            yield f"sandbox of {workspace.name}"
        finally:
            self.events.append("closed")


async def test_it_opens_before_it_is_used_and_closes_once(tmp_path: Path) -> None:
    opener = Opener()
    ahead = OpenedAhead(opener, tmp_path / "work", SandboxConfig())
    await asyncio.sleep(0.05)
    assert opener.events == ["open"]  # while the caller did something else
    async with ahead as sandbox:
        assert sandbox == "sandbox of work"
    await ahead.close()
    assert opener.events == ["open", "closed"]


async def test_closed_unused_it_is_closed_and_an_opening_error_is_raised_where_used(
    tmp_path: Path,
) -> None:
    unused = Opener()
    ahead = OpenedAhead(unused, tmp_path / "work", SandboxConfig())
    await asyncio.sleep(0.05)
    await ahead.close()
    assert unused.events == ["open", "closed"]

    broken = OpenedAhead(Opener(fail=True), tmp_path / "work", SandboxConfig())
    with pytest.raises(SandboxError, match="no engine"):
        async with broken:
            pass
    await broken.close()  # nothing more to raise
