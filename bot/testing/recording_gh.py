"""A GitHub API double: answers scripted (method, path) pairs, records every call, and fails
loudly on anything it was not told about. Subclasses gidgethub's GitHubAPI, so the real
request building, URL expansion and error decoding (`gidgethub.BadRequest`, ...) all run."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gidgethub.abc

from bot.errors import PatchbotError


class UnscriptedRequest(PatchbotError, AssertionError):
    """The code under test made a GitHub call the test did not script."""


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    """Path and query, relative to the API's base URL."""
    body: Any
    """The JSON body sent, decoded (None when empty)."""


class RecordingGitHubAPI(gidgethub.abc.GitHubAPI):
    """`gh.reply("GET", "/repos/o/r/...", body=...)`, then `gh.calls` after the code ran.

    A path given several replies answers them in order and repeats the last one. A `*` in a
    scripted path stands for any text (`/repos/o/r/issues/comments/*/reactions`), for calls
    whose ids the test cannot know in advance; `calls_to` takes the same patterns."""

    def __init__(self, *, base_url: str = "https://api.github.com") -> None:
        super().__init__("patchbot-tests", oauth_token="test-installation-token", base_url=base_url)
        self._replies: dict[tuple[str, str], list[Reply]] = {}
        self.calls: list[Call] = []

    def reply(
        self, method: str, path: str, *, status: int = 200, body: Any = None
    ) -> RecordingGitHubAPI:
        self._replies.setdefault((method.upper(), path), []).append(Reply(status, body))
        return self

    def allow(self, repository: str, login: str, role: str) -> RecordingGitHubAPI:
        """Script the collaborator permission check of `login` (`read`, `write`, `admin`...)."""
        permission = {"triage": "read", "maintain": "write"}.get(role, role)
        return self.reply(
            "GET",
            f"/repos/{repository}/collaborators/{login}/permission",
            body={"permission": permission, "role_name": role, "user": {"login": login}},
        )

    def calls_to(self, method: str, path: str) -> list[Call]:
        return [c for c in self.calls if c.method == method.upper() and _matches(c.path, path)]

    def _replies_to(self, method: str, path: str) -> list[Reply]:
        exact = self._replies.get((method, path))
        if exact:
            return exact
        found = (r for (m, p), r in self._replies.items() if m == method and _matches(path, p))
        return next(found, [])

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        path = url.removeprefix(self.base_url)
        self.calls.append(Call(method, path, json.loads(body) if body else None))
        replies = self._replies_to(method, path)
        if not replies:
            scripted = ", ".join(f"{m} {p}" for m, p in self._replies) or "nothing"
            raise UnscriptedRequest(
                f"unscripted GitHub call {method} {path} (scripted: {scripted})"
            )
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        answer = b"" if reply.body is None else json.dumps(reply.body).encode()
        return reply.status, {"content-type": "application/json"}, answer

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)


def _matches(path: str, scripted: str) -> bool:
    """Whether `path` is the scripted path, where a `*` in it stands for any text."""
    if "*" not in scripted:
        return path == scripted
    return re.fullmatch(".*".join(map(re.escape, scripted.split("*"))), path) is not None
