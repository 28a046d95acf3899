"""Errors from GitHub API calls that say which call failed, still catchable as gidgethub's."""

from __future__ import annotations

import http
from typing import Any, cast
from urllib.parse import urlsplit

import gidgethub

from bot.errors import PatchbotError

_HINTS = {
    401: "the app's credentials were refused: check APP_ID and PRIVATE_KEY",
    403: "the app lacks a permission for this call: compare app.yml with the app's settings",
    404: "not found, or the app is not installed on this repository",
}


class GitHubCallFailed(PatchbotError, RuntimeError):
    """A GitHub API call answered with an error (after any retries).

    Raised as a subclass of both this class and the gidgethub exception the answer maps to
    (`gidgethub.BadRequest`, `InvalidField`, `RateLimitExceeded`, `GitHubBroken`...), so
    handlers may catch either.
    """

    method: str
    path: str
    status: int
    github_message: str
    attempts: int


class GitHubUnreachable(PatchbotError, ConnectionError):
    """No HTTP answer from the GitHub API at all (connection refused, reset, timed out)."""

    def __init__(self, method: str, url: str, attempts: int, cause: BaseException) -> None:
        self.method = method
        self.path = urlsplit(url).path
        self.attempts = attempts
        super().__init__(
            f"GitHub API call {method} {self.path} got no answer after {attempts} attempt(s) "
            f"({type(cause).__name__}: {cause}); check GITHUB_API_URL and the network."
        )


_FAILURE_CLASSES: dict[str, type[GitHubCallFailed]] = {}


def _failure_class(base: type[gidgethub.HTTPException]) -> type[GitHubCallFailed]:
    key = f"{base.__module__}.{base.__qualname__}"
    if key not in _FAILURE_CLASSES:
        made = type(base.__name__, (GitHubCallFailed, base), {"__module__": __name__})
        _FAILURE_CLASSES[key] = cast(type[GitHubCallFailed], made)
    return _FAILURE_CLASSES[key]


def call_failed(
    method: str, url: str, error: gidgethub.HTTPException, attempts: int, reason: str = ""
) -> GitHubCallFailed:
    """The error to raise for `error`: same gidgethub type and fields, a message naming the call."""
    status = int(error.status_code)
    path = urlsplit(url).path
    github_message = str(error) if error.args else ""
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    message = f"GitHub API call {method} {path} failed: {status} {phrase}"
    if github_message and github_message != phrase:
        message += f": {github_message}"
    if attempts > 1 or reason:
        tried = f"after {attempts} attempt{'s' if attempts > 1 else ''}"
        message += f" ({tried}{'; ' + reason if reason else ''})"
    elif status in _HINTS:
        message += f" ({_HINTS[status]})"
    cls = _failure_class(type(error))
    failure = cls.__new__(cls, message)
    fields: dict[str, Any] = dict(vars(error))
    vars(failure).update(fields)
    failure.args = (message,)
    failure.method = method
    failure.path = path
    failure.status = status
    failure.github_message = github_message
    failure.attempts = attempts
    return failure
