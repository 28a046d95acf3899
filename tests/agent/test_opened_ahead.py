"""A sandbox opened ahead of its use: open at once, closed once, used or not; an error opening
it is raised where it is used."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest

from bot.errors import SandboxError
from bot.sandbox.config import SandboxConfig
from bot.solve.ahead import NotUsed, OpenedAhead


class Opener:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.events: list[str] = []

    @contextlib.asynccontextmanager
    async def __call__(
        self, workspace: Path, config: SandboxConfig, *, edited: Awaitable[None] | None = None
    ) -> AsyncIterator[Any]:
        self.events.append("open")
        await asyncio.sleep(0.01)
        if self.fail:
            raise SandboxError("no engine")
        if edited is not None:
            await edited
            self.events.append("edited")
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


async def test_opened_for_edits_it_is_handed_over_after_them_or_closed_unused(
    tmp_path: Path,
) -> None:
    opener = Opener()
    ahead = OpenedAhead(opener, tmp_path / "work", SandboxConfig(), edits=True)
    await asyncio.sleep(0.05)
    assert opener.events == ["open"]  # started, waiting for the edits
    async with ahead as sandbox:  # using it says the edits are done
        assert opener.events == ["open", "edited"]
        assert sandbox == "sandbox of work"
    assert opener.events == ["open", "edited", "closed"]

    unused = Opener()
    waiting = OpenedAhead(unused, tmp_path / "work", SandboxConfig(), edits=True)
    await asyncio.sleep(0.05)
    await waiting.close()  # does not wait for edits that will never come
    assert unused.events == ["open"]
    with pytest.raises(NotUsed):
        async with waiting:
            pass
