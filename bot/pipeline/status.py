"""The run's one status comment on the issue, found by its marker and edited in place."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from gidgethub.abc import GitHubAPI

from bot.github.markers import status_marker

log = logging.getLogger(__name__)

MIN_INTERVAL = 2.0
"""Seconds between two edits of the comment while a run progresses (GitHub rate limits)."""


class StatusComment:
    """Posts the run's status comment once, then edits it; progress edits are coalesced."""

    def __init__(
        self, gh: GitHubAPI, repository: str, issue: int, run_id: int, bot_login: str
    ) -> None:
        self.gh = gh
        self.bot_login = bot_login
        self.repository = repository
        self.issue = issue
        self.run_id = run_id
        self.comment_id: int | None = None
        self._latest: str | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def _find(self) -> int | None:
        """The run's status comment: the oldest one the bot wrote with the run's marker.

        Two can exist when the intake's "queued" comment reached GitHub only after the
        pipeline had posted its own (a retried request); the later ones are deleted. A
        comment someone else wrote with the marker in it is never touched.
        """
        marker = status_marker(self.run_id)
        url = f"/repos/{self.repository}/issues/{self.issue}/comments"
        ours = [
            int(comment["id"])
            async for comment in self.gh.getiter(url)
            if (comment.get("body") or "").startswith(marker)  # quoted text never starts one
            and (comment.get("user") or {}).get("login") == self.bot_login
        ]
        for duplicate in sorted(ours)[1:]:
            await self.gh.delete(f"/repos/{self.repository}/issues/comments/{duplicate}")
        return min(ours) if ours else None

    async def show(self, body: str, *, final: bool = False) -> None:
        """Make the comment say `body` now (the latest call wins); `final` also removes a
        duplicate that appeared meanwhile."""
        async with self._lock:
            if self.comment_id is None or final:
                # The one found by its marker, else the one this process made (the bot's
                # login may be configured wrong, PATCHBOT_BOT_LOGIN).
                self.comment_id = await self._find() or self.comment_id
            if self.comment_id is None:
                url = f"/repos/{self.repository}/issues/{self.issue}/comments"
                created = await self.gh.post(url, data={"body": body})
                self.comment_id = int(created["id"])
            else:
                url = f"/repos/{self.repository}/issues/comments/{self.comment_id}"
                await self.gh.patch(url, data={"body": body})

    def progress(self, body: str) -> None:
        """Show `body` soon, without waiting; bursts of progress become one edit."""
        self._latest = body
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._latest is not None:
            body, self._latest = self._latest, None
            try:
                await self.show(body)
            except Exception:  # progress is best effort; the final text is not
                log.warning("could not update the status comment of run %d", self.run_id)
            await asyncio.sleep(MIN_INTERVAL)

    async def close(self) -> None:
        """Stop pending progress edits (before the final text is shown)."""
        self._latest = None
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
