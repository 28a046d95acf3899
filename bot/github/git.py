"""Clone and push over HTTPS with an installation token that never touches the disk or argv,
trying again after a transient failure.

The token reaches git only through the environment of the git process, as an
`http.<remote URL>.extraHeader` set with `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/
`GIT_CONFIG_VALUE_n`: not in the remote URL, not in `.git/config`, not in the command line
(`ps` shows argv to every user), and scoped to that one remote URL. Errors and logs are
redacted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from bot.errors import ConfigError, PatchbotError
from bot.github.retrying import RetryConfig, backoff_wait, git_transient
from bot.trace import Redactor

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 300.0
"""Seconds a clone, fetch or push may take before it is killed."""

# Inherited variables that could log the credential (GIT_TRACE_CURL...), carry config of
# their own, or point git at another repository. Others (GIT_SSL_CAINFO...) pass through.
_DROPPED_PREFIXES = (
    "GIT_TRACE",
    "GIT_CURL_VERBOSE",
    "GIT_REDACT",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_KEY_",
    "GIT_CONFIG_VALUE_",
    "GIT_CONFIG_PARAMETERS",
    "GIT_ASKPASS",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
)


class GitError(PatchbotError, RuntimeError):
    """A git command failed; the message carries its (redacted) output."""

    def __init__(self, message: str, *, returncode: int | None = None) -> None:
        super().__init__(message)
        self.returncode = returncode


class GitTimeout(GitError, TimeoutError):
    """A git command ran past its timeout and was killed."""


def _basic_header(token: str) -> str:
    credentials = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return f"AUTHORIZATION: basic {credentials}"


def check_remote_url(url: str) -> None:
    """Refuse URLs carrying credentials: they would be written to `.git/config`."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise ConfigError(
            f"git remote {url!r} is not an http(s) URL; use the clone_url GitHub gives"
        )
    if parts.username or parts.password:
        raise ConfigError(
            f"git remote URL for {parts.hostname}{parts.path} carries credentials; pass the token "
            "to bot.github.git instead, so it is never written to disk"
        )


def git_environment(url: str | None = None, token: str | None = None) -> dict[str, str]:
    """The environment for a git process: no inherited tracing or config, no prompts, and the
    token (if any) as an extra header for `url` only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_PREFIXES)}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GCM_INTERACTIVE"] = "never"
    settings = [("credential.helper", "")]  # never hand the token to a credential store
    if token is not None and url is not None:
        settings.append((f"http.{url}.extraheader", _basic_header(token)))
    env["GIT_CONFIG_COUNT"] = str(len(settings))
    for index, (key, value) in enumerate(settings):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


async def run_git(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    url: str | None = None,
    token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retry: RetryConfig | None = None,
) -> str:
    """Run `git ARGS`; return stdout. The token only reaches git's environment. A command
    that talks to the remote `url` is run again after a transient failure (a 5xx, a dropped
    connection), with backoff within `retry` (default `RetryConfig()`), as API calls are."""
    redact = Redactor([token, _basic_header(token)] if token else [])
    shown = redact(" ".join(["git", *args]))
    bounds = retry or RetryConfig()
    attempt, waited = 0, 0.0
    while True:
        attempt += 1
        try:
            return await _run_once(args, shown, redact, cwd, git_environment(url, token), timeout)
        except GitTimeout:
            raise  # it already had `timeout` seconds: a stall, not a blip
        except GitError as error:
            wait = backoff_wait(bounds, attempt)
            if (
                url is None
                or not git_transient(str(error))
                or attempt >= bounds.max_attempts
                or waited + wait > bounds.max_total_wait
            ):
                if attempt == 1:
                    raise
                raise GitError(
                    f"{error} (after {attempt} attempts)", returncode=error.returncode
                ) from error
            log.warning("%s failed for a moment; retrying in %.1f s: %s", shown, wait, error)
            await asyncio.sleep(wait)
            waited += wait


async def _run_once(
    args: Sequence[str],
    shown: str,
    redact: Redactor,
    cwd: Path | None,
    env: dict[str, str],
    timeout: float,
) -> str:
    log.debug("running %s", shown)
    process = await asyncio.create_subprocess_exec(
        "git",
        *args,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # so a timeout kills git-remote-http too
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError as e:
        _kill_group(process)
        await process.wait()
        raise GitTimeout(f"{shown} took longer than {timeout:.0f} s and was killed") from e
    if process.returncode != 0:
        detail = redact(err.decode(errors="replace").strip())
        raise GitError(
            f"{shown} failed (exit {process.returncode}): {detail}", returncode=process.returncode
        )
    return out.decode(errors="replace")


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


async def clone(
    url: str,
    dest: Path,
    token: str | None,
    *,
    branch: str | None = None,
    depth: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retry: RetryConfig | None = None,
) -> None:
    """Clone `url` (its default branch, or `branch`) into `dest`; `origin` keeps the bare URL."""
    check_remote_url(url)
    args = ["clone", "--quiet", "--no-tags"]
    if branch is not None:
        args += ["--branch", branch]
    if depth is not None:
        args += ["--depth", str(depth)]
    await run_git([*args, "--", url, str(dest)], url=url, token=token, timeout=timeout, retry=retry)


async def apply_patch(tree: Path, patch: str, *, index: bool = True) -> None:
    """Apply `patch` (`git diff --binary` text) to the work tree at `tree`, and to its index
    unless `index` is False. The patch goes through a file beside `tree`, never inside it."""
    patch_file = tree.parent / f"{tree.name}.diff"
    patch_file.write_text(patch)
    try:
        await run_git(
            ["apply", *(["--index"] if index else []), "--binary", str(patch_file)], cwd=tree
        )
    finally:
        patch_file.unlink()


async def remote_url(repo: Path, remote: str = "origin") -> str:
    return (await run_git(["remote", "get-url", remote], cwd=repo)).strip()


async def push(
    repo: Path,
    branch: str,
    token: str,
    *,
    remote: str = "origin",
    source: str = "HEAD",
    force: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    retry: RetryConfig | None = None,
) -> None:
    """Push `source` to `refs/heads/<branch>` on the remote (`force` replaces what is there)."""
    url = await remote_url(repo, remote)
    check_remote_url(url)
    args = ["push", "--quiet", "--porcelain"]
    if force:
        args.append("--force")
    await run_git(
        [*args, remote, f"{source}:refs/heads/{branch}"],
        cwd=repo,
        url=url,
        token=token,
        timeout=timeout,
        retry=retry,
    )


async def remote_branch_sha(
    url: str, branch: str, token: str | None, *, timeout: float = DEFAULT_TIMEOUT
) -> str | None:
    """The commit `branch` points to on the remote, or None if it does not exist."""
    check_remote_url(url)
    out = await run_git(
        ["ls-remote", "--heads", url, f"refs/heads/{branch}"],
        url=url,
        token=token,
        timeout=timeout,
    )
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref == f"refs/heads/{branch}":
            return sha
    return None
