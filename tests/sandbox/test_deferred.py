"""Clean-up handed to a `Deferred` runs in the background in order and is waited for; without
one it runs at once, to its end even when the caller is cancelled."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.sandbox.deferred import Deferred, clean_up, deferring, temporary_folder


async def step(done: list[str], name: str, seconds: float = 0.0, fail: bool = False) -> None:
    await asyncio.sleep(seconds)
    if fail:
        raise RuntimeError(f"{name} failed")
    done.append(name)


async def test_deferred_steps_run_after_the_caller_in_order_and_are_waited_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    done: list[str] = []

    async def run() -> None:
        await clean_up(step(done, "slow sandbox", 0.05))
        await clean_up(step(done, "broken sandbox", fail=True))
        await clean_up(step(done, "folder"))
        done.append("run ended")

    deferred = Deferred()
    await asyncio.create_task(run(), context=deferring(deferred))
    assert done == ["run ended"]
    await deferred.wait()
    assert done == ["run ended", "slow sandbox", "folder"]
    assert "a deferred clean-up failed" in caplog.text


async def test_without_a_deferred_clean_up_runs_at_once_and_outlives_a_cancellation() -> None:
    done: list[str] = []
    await clean_up(step(done, "now"))
    assert done == ["now"]

    caller = asyncio.create_task(clean_up(step(done, "cancelled meanwhile", 0.05)))
    await asyncio.sleep(0.01)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert done == ["now", "cancelled meanwhile"]


async def test_a_temporary_folder_goes_after_the_sandboxes_handed_over_before_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    seen: list[bool] = []

    async def run() -> Path:
        async with temporary_folder("test-", tmp_path) as folder:
            (folder / "work").mkdir()

            async def sandbox_removed() -> None:  # the folder is still there meanwhile
                await asyncio.sleep(0.05)
                seen.append((folder / "work").is_dir())

            await clean_up(sandbox_removed())
        return folder

    deferred = Deferred()
    folder = await asyncio.create_task(run(), context=deferring(deferred))
    assert folder.is_dir()
    await deferred.wait()
    assert seen == [True] and not folder.exists()
    assert caplog.text == ""
