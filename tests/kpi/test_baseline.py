"""People's cycle time from the simulated GitHub's REST API, against medians computed by hand:
closing keywords in titles and bodies, Patchbot's and other bots' pull requests left out, an
issue fixed twice counted at its first merge, pages followed and the scan bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.github.client import GitHubApp, GitHubClientConfig
from bot.kpi.baseline import baseline_seconds, fetch_baseline, fixed_issues, refresh_baselines
from bot.runs.facts import CycleTimeBaseline
from bot.runs.models import NewRun
from bot.runs.store import opened_store
from bot.testing.simulator import GitHubSimulator, WebhookReceiver

REPO = "octo/a"
DAY = "2024-01-01T{}Z"


@pytest.fixture
async def github(tmp_path: Path, app_private_key: str) -> AsyncIterator[GitHubSimulator]:
    async with (
        GitHubSimulator(tmp_path / "github", private_key_pem=app_private_key) as github,
        WebhookReceiver("secret") as hooks,
    ):
        github.send_webhooks_to(hooks.url, "secret")
        github.add_repo(REPO, files={"a.py": "x = 1\n"})
        yield github


async def merged(github: GitHubSimulator, by: str, title: str, body: str, at: str) -> None:
    repo = github.repo(REPO)
    pull, _ = await github.open_pull(
        REPO,
        f"fix-{len(repo.pulls)}",
        {"a.py": f"x = {len(repo.pulls)}\n"},
        by=by,
        title=title,
        body=body,
    )
    await github.close_pull(REPO, pull.number, by="maintainer", merge=True)
    pull.merged_at = at


async def history(github: GitHubSimulator, bot_login: str) -> None:
    """Issues 1-3 opened at 00:00, 00:00 and 00:16:40; fixed after 1 h, 2 h and 2 h (so
    3600, 7200 and 6200 s: median 6200); then Patchbot's and a bot's fixes, an unmerged one,
    a fix of an issue that does not exist, and a second, later fix of issue 1."""
    opened = {1: DAY.format("00:00:00"), 2: DAY.format("00:00:00"), 3: DAY.format("00:16:40")}
    for number, at in opened.items():
        issue = github.add_issue(REPO, f"bug {number}", author="alice")
        assert issue.number == number
        issue.created_at = at
    await merged(github, "alice", "Fix the first bug", "Fixes #1", DAY.format("01:00:00"))
    await merged(github, "bob", "Closes #2, resolves: #3", None, DAY.format("02:00:00"))
    await merged(github, bot_login, "Fix #1", "fixes #1", DAY.format("00:00:10"))
    github.state.user("dependabot[bot]", "Bot")
    await merged(github, "dependabot[bot]", "Bump", "Fixes #2", DAY.format("00:00:20"))
    pull, _ = await github.open_pull(REPO, "unmerged", {"b.py": "1"}, by="carol", title="fix #3")
    await github.close_pull(REPO, pull.number, by="carol")
    await merged(github, "carol", "Typo", "This fixes #99 (gone)", DAY.format("03:00:00"))
    await merged(github, "alice", "Fix #1 again", "Fixes #1", "2024-01-02T00:00:00Z")


async def test_the_baseline_is_the_median_of_peoples_fixes(
    github: GitHubSimulator, tmp_path: Path
) -> None:
    bot_login = github.state.app.bot.login
    await history(github, bot_login)
    installation = github.add_installation("octo", [REPO])
    config = GitHubClientConfig(
        api_url=github.api_url, app_id=github.app_id, private_key=SecretStr(github.private_key_pem)
    )
    async with GitHubApp(config) as app:
        gh = await app.installation_api(installation.id)
        found = await fetch_baseline(gh, REPO, bot_login, per_page=2)  # pages followed
        assert (found.median_s, found.samples, found.scanned) == (6200.0, 3, 4)
        newest = await fetch_baseline(gh, REPO, bot_login, limit=2, per_page=2)
        # only the two latest people's merges: issue 1 fixed after a day, #99 not an issue
        assert (newest.median_s, newest.samples, newest.scanned) == (86400.0, 1, 2)

        url = f"sqlite:///{tmp_path / 'patchbot.db'}"
        async with opened_store(url) as store:
            new = NewRun(repository=REPO, issue=1, requester="alice", trigger="label")
            run, _ = await store.create_run(
                new.model_copy(update={"installation_id": installation.id})
            )
            orphan, _ = await store.create_run(new.model_copy(update={"repository": "octo/gone"}))
            skipped = await refresh_baselines(store, app.installation_api, [run, orphan], bot_login)
            assert skipped == ["octo/gone"]
            kept = await store.baselines()
            assert kept[REPO].median_s == 6200.0 and "octo/gone" not in kept


def test_closing_keywords_and_the_median_of_several_repositories() -> None:
    pull = {"title": "Fixed #4; closes  #5", "body": "resolve #6, refs #7, fixes#8, prefix#9"}
    assert fixed_issues(pull) == {4, 5, 6}
    known = {
        name: CycleTimeBaseline(
            repository=name, median_s=seconds, samples=1, scanned=1, computed_at=0
        )
        for name, seconds in (("a", 100.0), ("b", 300.0), ("c", None))
    }
    assert baseline_seconds(known, ["a"]) == 100.0
    assert baseline_seconds(known, ["a", "b", "c", "a"]) == 200.0
    assert baseline_seconds(known, ["c", "d"]) is None
