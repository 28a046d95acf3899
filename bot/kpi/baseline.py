"""People's cycle time on a repository, the baseline the KPIs' cycle time is compared with:
issue opened -> the pull request that fixed it merged, from the REST API.

The latest closed pull requests (`GET /repos/{repo}/pulls?state=closed`, newest first, page
by page) are read until `limit` merged ones by people were seen (Patchbot's own and other
bots' are skipped); each names the issues it fixed with GitHub's closing keywords in its
title or body (`fixes #12`, `Closes #3`, `resolved: #7`); each such issue is read
(`GET /repos/{repo}/issues/{n}`) for when it was opened. An issue fixed by several pull
requests counts once, at its earliest merge."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from statistics import median
from typing import Any

import gidgethub
from gidgethub.abc import GitHubAPI

from bot.handlers.dispatcher import GitHubFactory
from bot.handlers.outcomes import unix_time
from bot.runs.facts import CycleTimeBaseline
from bot.runs.models import Run
from bot.runs.store import RunStore

CLOSING = re.compile(
    r"\b(?:close|closes|closed|fix|fixes|fixed|resolve|resolves|resolved):?\s+#(\d+)\b",
    re.IGNORECASE,
)
"""GitHub's keywords that link a pull request to the issue it closes (same repository)."""
MERGED_PULLS = 100
"""Merged pull requests by people a baseline looks at, newest first."""
PER_PAGE = 50
LOOK_AT_MOST = 5
"""Closed pull requests read are at most this many times `limit` (many closed unmerged)."""


def fixed_issues(pull: dict[str, Any]) -> set[int]:
    """The issue numbers a pull request's title and body say it fixes."""
    text = f"{pull.get('title') or ''}\n{pull.get('body') or ''}"
    return {int(number) for number in CLOSING.findall(text)}


def by_people(pull: dict[str, Any], bot_login: str) -> bool:
    user = pull.get("user") or {}
    return user.get("login") != bot_login and user.get("type") != "Bot"


async def _opened_at(gh: GitHubAPI, repository: str, number: int) -> float | None:
    """When issue `number` was opened; None when there is no such issue (or it is a pull
    request: a closing keyword may name one)."""
    try:
        issue = await gh.getitem(f"/repos/{repository}/issues/{number}")
    except gidgethub.BadRequest as error:
        if error.status_code in (404, 410):  # deleted, transferred or never there
            return None
        raise
    return None if "pull_request" in issue else unix_time(issue.get("created_at"))


async def fetch_baseline(
    gh: GitHubAPI,
    repository: str,
    bot_login: str,
    *,
    limit: int = MERGED_PULLS,
    per_page: int = PER_PAGE,
) -> CycleTimeBaseline:
    """The repository's people's median cycle time, from its latest `limit` merged pull
    requests by people."""
    merged_at: dict[int, float] = {}
    scanned = looked = 0
    url = f"/repos/{repository}/pulls?state=closed&per_page={per_page}"
    async for pull in gh.getiter(url):
        looked += 1
        merged = unix_time(pull.get("merged_at"))
        if merged is not None and by_people(pull, bot_login):
            scanned += 1
            for number in fixed_issues(pull):
                merged_at[number] = min(merged, merged_at.get(number, merged))
        if scanned >= limit or looked >= limit * LOOK_AT_MOST:
            break
    times = []
    for number, merged in sorted(merged_at.items()):
        opened = await _opened_at(gh, repository, number)
        if opened is not None and merged >= opened:
            times.append(merged - opened)
    return CycleTimeBaseline(
        repository=repository,
        median_s=median(times) if times else None,
        samples=len(times),
        scanned=scanned,
        computed_at=time.time(),
    )


async def refresh_baselines(
    store: RunStore, github: GitHubFactory, runs: list[Run], bot_login: str
) -> list[str]:
    """Fetch and keep the baseline of each repository of `runs`, asking as the installation
    of its latest run; the repositories with no installation to ask as."""
    installations: dict[str, int | None] = {}
    for run in sorted(runs, key=lambda r: r.created_at):
        installations[run.repository] = run.installation_id or installations.get(run.repository)
    skipped = []
    for repository, installation in sorted(installations.items()):
        if installation is None:
            skipped.append(repository)
            continue
        gh = await github(installation)
        await store.save_baseline(await fetch_baseline(gh, repository, bot_login))
    return skipped


def baseline_seconds(
    baselines: Mapping[str, CycleTimeBaseline], repositories: Iterable[str]
) -> float | None:
    """The baseline of one repository, or for several the median of theirs; None when none
    is known."""
    medians = [
        found.median_s
        for name in set(repositories)
        if (found := baselines.get(name)) is not None and found.median_s is not None
    ]
    return median(medians) if medians else None
