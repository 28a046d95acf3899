"""Retries on 5xx and rate limits, honouring GitHub's headers; never on other 4xx."""

from __future__ import annotations

import http
from collections.abc import Callable

import aiohttp
import gidgethub
import pytest

from bot.github.client import GitHubApp, PatchbotGitHubAPI
from bot.github.errors import GitHubCallFailed, GitHubUnreachable
from bot.github.retrying import RetryConfig, retry_wait
from bot.testing.simulator import GitHubSimulator
from bot.testing.simulator.state import Installation

REPO_PATH = "/repos/octo/demo"


def statuses(github: GitHubSimulator, path: str, method: str = "GET") -> list[int]:
    return [r.status for r in github.requests if r.path == path and r.method == method]


async def test_502_is_retried_with_backoff_then_succeeds(
    github: GitHubSimulator, app: GitHubApp, installation: Installation, slept: list[float]
) -> None:
    api = await app.installation_api(installation.id)
    github.faults.server_error(REPO_PATH, status=502, times=2)

    repo = await api.getitem(REPO_PATH)

    assert repo["name"] == "demo"
    assert statuses(github, REPO_PATH) == [502, 502, 200]
    assert slept == [1.0, 2.0]


async def test_secondary_rate_limit_waits_as_long_as_retry_after_says(
    github: GitHubSimulator, app: GitHubApp, installation: Installation, slept: list[float]
) -> None:
    api = await app.installation_api(installation.id)
    github.faults.secondary_rate_limit(REPO_PATH + "/issues/1/comments", retry_after=7)

    comment = await api.post(REPO_PATH + "/issues/1/comments", data={"body": "on it"})

    assert comment["body"] == "on it"
    assert statuses(github, REPO_PATH + "/issues/1/comments", "POST") == [403, 201]
    assert slept == [7.0]
    assert len(github.repo("octo/demo").comments_on(1)) == 1


async def test_429_with_retry_after_is_retried(
    github: GitHubSimulator, app: GitHubApp, installation: Installation, slept: list[float]
) -> None:
    api = await app.installation_api(installation.id)
    github.faults.secondary_rate_limit(REPO_PATH + "/issues/1", status=429, retry_after=3)

    issue = await api.getitem(REPO_PATH + "/issues/1")

    assert issue["number"] == 1
    assert statuses(github, REPO_PATH + "/issues/1") == [429, 200]
    assert slept == [3.0]


async def test_exhausted_primary_rate_limit_waits_until_the_reset_time(
    github: GitHubSimulator, app: GitHubApp, installation: Installation, slept: list[float]
) -> None:
    api = await app.installation_api(installation.id)
    github.faults.primary_rate_limit(REPO_PATH, reset_in=30)

    await api.getitem(REPO_PATH)

    assert statuses(github, REPO_PATH) == [403, 200]
    assert len(slept) == 1
    assert 28 <= slept[0] <= 32


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/repos/octo/missing", 404, gidgethub.BadRequest),
        (REPO_PATH + "/issues/99", 404, gidgethub.BadRequest),
    ],
)
async def test_not_found_is_not_retried_and_names_the_call(
    github: GitHubSimulator,
    app: GitHubApp,
    installation: Installation,
    slept: list[float],
    path: str,
    status: int,
    error: type[Exception],
) -> None:
    api = await app.installation_api(installation.id)

    with pytest.raises(GitHubCallFailed) as raised:
        await api.getitem(path)

    assert isinstance(raised.value, error)
    assert raised.value.status == raised.value.status_code == status
    assert f"GET /api/v3{path}" in str(raised.value) and str(status) in str(raised.value)
    assert statuses(github, path) == [status]
    assert slept == []


async def test_validation_failure_is_not_retried_and_stays_an_invalid_field(
    github: GitHubSimulator, app: GitHubApp, installation: Installation, slept: list[float]
) -> None:
    api = await app.installation_api(installation.id)
    pull = {"title": "Fix", "head": "no-such-branch", "base": "main"}

    with pytest.raises(gidgethub.InvalidField) as raised:
        await api.post(REPO_PATH + "/pulls", data=pull)

    assert isinstance(raised.value, GitHubCallFailed)
    assert "POST /api/v3/repos/octo/demo/pulls failed: 422" in str(raised.value)
    assert "Validation Failed" in str(raised.value)
    assert statuses(github, REPO_PATH + "/pulls", "POST") == [422]
    assert slept == []


async def test_retries_stop_after_max_attempts(
    github: GitHubSimulator,
    make_app: Callable[..., GitHubApp],
    installation: Installation,
    slept: list[float],
) -> None:
    app = make_app(max_attempts=3)
    api = await app.installation_api(installation.id)
    github.faults.server_error(REPO_PATH, status=503, times=10)

    with pytest.raises(gidgethub.GitHubBroken) as raised:
        await api.getitem(REPO_PATH)

    assert isinstance(raised.value, GitHubCallFailed)
    assert "503" in str(raised.value) and "after 3 attempts" in str(raised.value)
    assert statuses(github, REPO_PATH) == [503, 503, 503]
    assert len(slept) == 2


async def test_rate_limit_resetting_beyond_the_wait_budget_fails_without_sleeping(
    github: GitHubSimulator,
    make_app: Callable[..., GitHubApp],
    installation: Installation,
    slept: list[float],
) -> None:
    app = make_app(max_total_wait=60)
    api = await app.installation_api(installation.id)
    github.faults.secondary_rate_limit(REPO_PATH, retry_after=600)

    with pytest.raises(GitHubCallFailed, match="max_total_wait"):
        await api.getitem(REPO_PATH)

    assert statuses(github, REPO_PATH) == [403]
    assert slept == []


async def test_forbidden_without_rate_limit_headers_is_not_retried() -> None:
    error = gidgethub.BadRequest(
        http.HTTPStatus.FORBIDDEN, "Resource not accessible by integration"
    )

    assert retry_wait(RetryConfig(), error, 1) is None


async def test_slow_answer_times_out_and_is_retried(
    github: GitHubSimulator,
    make_app: Callable[..., GitHubApp],
    installation: Installation,
    slept: list[float],
) -> None:
    app = make_app(request_timeout=0.3)
    api = await app.installation_api(installation.id)
    github.faults.slow(REPO_PATH, 1.0)

    repo = await api.getitem(REPO_PATH)

    assert repo["name"] == "demo"
    assert len([r for r in github.requests if r.path == REPO_PATH]) == 2
    assert slept == [1.0]


async def test_unreachable_api_raises_after_bounded_attempts() -> None:
    async with aiohttp.ClientSession() as session:
        api = PatchbotGitHubAPI(
            session,
            base_url="http://127.0.0.1:9",  # discard port: nothing listens
            retry=RetryConfig(max_attempts=2, backoff=0.01),
        )
        with pytest.raises(GitHubUnreachable, match=r"GET /rate_limit got no answer after 2"):
            await api.getitem("/rate_limit")


async def test_secondary_rate_limit_without_retry_after_waits_a_minute(
    github: GitHubSimulator, app: GitHubApp, installation: Installation, slept: list[float]
) -> None:
    api = await app.installation_api(installation.id)
    fault = github.faults.secondary_rate_limit(REPO_PATH)
    fault.headers.clear()

    await api.getitem(REPO_PATH)

    assert statuses(github, REPO_PATH) == [403, 200]
    assert slept == [60.0]


async def test_each_call_gets_its_own_wait_budget(
    github: GitHubSimulator,
    make_app: Callable[..., GitHubApp],
    installation: Installation,
    slept: list[float],
) -> None:
    app = make_app(max_total_wait=10)
    api = await app.installation_api(installation.id)
    for _ in range(2):
        github.faults.secondary_rate_limit(REPO_PATH, retry_after=8)
        await api.getitem(REPO_PATH)

    assert statuses(github, REPO_PATH) == [403, 200, 403, 200]
    assert slept == [8.0, 8.0]
