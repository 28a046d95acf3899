"""The simulator behaves like GitHub where Patchbot depends on it: auth rules, pagination,
finding a pull request by head, and signed webhook deliveries about the simulated objects."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import gidgethub
import pytest

from bot.github.auth import app_jwt
from bot.github.client import GitHubApp
from bot.github.payloads import InstallationEvent, IssueCommentEvent, IssuesEvent
from bot.testing.simulator import GitHubSimulator, WebhookReceiver
from bot.testing.simulator.state import Installation

SECRET = "webhook-secret-for-tests"


async def status_of(github: GitHubSimulator, path: str, authorization: str | None) -> int:
    headers = {"Authorization": authorization} if authorization else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(github.api_url + path, headers=headers) as response,
    ):
        return response.status


async def test_app_endpoints_take_only_the_app_jwt(
    github: GitHubSimulator, installation: Installation
) -> None:
    token = github.mint_token(installation.id).token
    jwt = app_jwt(github.app_id, github.private_key_pem)

    assert await status_of(github, "/app", f"bearer {jwt}") == 200
    assert await status_of(github, "/app", f"token {token}") == 401
    assert await status_of(github, "/app", None) == 401
    wrong_app = app_jwt(github.app_id + 1, github.private_key_pem)
    assert await status_of(github, "/app", f"bearer {wrong_app}") == 401


async def test_repository_endpoints_take_only_a_live_installation_token(
    github: GitHubSimulator, installation: Installation
) -> None:
    live = github.mint_token(installation.id).token
    expired = github.mint_token(installation.id, lifetime=-1).token
    jwt = app_jwt(github.app_id, github.private_key_pem)

    assert await status_of(github, "/repos/octo/demo", f"token {live}") == 200
    assert await status_of(github, "/repos/octo/demo", f"token {expired}") == 401
    assert await status_of(github, "/repos/octo/demo", f"bearer {jwt}") == 401
    assert await status_of(github, "/repos/octo/demo", "token ghs_made_up_by_a_test") == 401
    assert await status_of(github, "/repos/octo/demo", None) == 401


async def test_repository_outside_the_installation_is_not_found(
    github: GitHubSimulator, installation: Installation
) -> None:
    github.add_repo("octo/private-elsewhere")
    token = github.mint_token(installation.id).token

    assert await status_of(github, "/repos/octo/private-elsewhere", f"token {token}") == 404


async def test_comments_are_paginated_with_link_headers(
    github: GitHubSimulator, app: GitHubApp, installation: Installation
) -> None:
    for n in range(35):
        github.add_comment("octo/demo", 1, f"comment {n}", author="alice")
    api = await app.installation_api(installation.id)

    bodies = [c["body"] async for c in api.getiter("/repos/octo/demo/issues/1/comments")]

    assert bodies == [f"comment {n}" for n in range(35)]
    pages = [r for r in github.requests if r.path == "/repos/octo/demo/issues/1/comments"]
    assert len(pages) == 2


async def test_status_comment_is_edited_in_place(
    github: GitHubSimulator, app: GitHubApp, installation: Installation
) -> None:
    api = await app.installation_api(installation.id)
    posted = await api.post("/repos/octo/demo/issues/1/comments", data={"body": "queued"})

    await api.patch(posted["url"], data={"body": "done"})

    comments = github.repo("octo/demo").comments_on(1)
    assert [(c.body, c.user.login) for c in comments] == [("done", "patchbot[bot]")]


async def test_pull_request_is_found_by_head_and_not_opened_twice(
    github: GitHubSimulator,
    app: GitHubApp,
    installation: Installation,
    push_commit: Callable[[str, dict[str, str]], Awaitable[str]],
) -> None:
    await push_commit("patchbot/issue-1", {"calc.py": "def add(a, b):\n    return a + b\n"})
    api = await app.installation_api(installation.id)
    pull = {"title": "Fix", "head": "patchbot/issue-1", "base": "main"}
    opened = await api.post("/repos/octo/demo/pulls", data=pull)

    with pytest.raises(gidgethub.BadRequest, match="already exists"):
        await api.post("/repos/octo/demo/pulls", data=pull)
    query = {"head": "octo:patchbot/issue-1", "state": "open"}
    found = [p async for p in api.getiter("/repos/octo/demo/pulls{?head,state}", query)]
    others = [
        p
        async for p in api.getiter("/repos/octo/demo/pulls{?head}", {"head": "octo:something-else"})
    ]

    assert [p["number"] for p in found] == [opened["number"]]
    assert others == []
    diff = await api.getitem(opened["url"], accept="application/vnd.github.diff")
    assert "-    return a - b\n+    return a + b" in diff


async def test_pull_request_without_commits_is_refused(
    github: GitHubSimulator, app: GitHubApp, installation: Installation
) -> None:
    api = await app.installation_api(installation.id)
    sha = (await api.getitem("/repos/octo/demo/git/ref/heads/main"))["object"]["sha"]
    await api.post("/repos/octo/demo/git/refs", data={"ref": "refs/heads/empty", "sha": sha})

    with pytest.raises(gidgethub.BadRequest, match="No commits between main and empty"):
        await api.post(
            "/repos/octo/demo/pulls", data={"title": "Nothing", "head": "empty", "base": "main"}
        )


@pytest.fixture
async def hooks(github: GitHubSimulator) -> AsyncIterator[WebhookReceiver]:
    """A webhook endpoint that verifies signatures as the bot does, and keeps the events; the
    simulator delivers there, signing with SECRET."""
    async with WebhookReceiver(SECRET) as receiver:
        github.send_webhooks_to(receiver.url, SECRET)
        yield receiver


async def test_labeling_an_issue_delivers_a_signed_event_about_the_simulated_objects(
    github: GitHubSimulator,
    installation: Installation,
    hooks: WebhookReceiver,
) -> None:
    events = hooks.events

    delivery = await github.label_issue("octo/demo", 1, "patchbot", by="maintainer")

    assert delivery.status == 202
    [event] = events
    assert (event.event, event.data["action"]) == ("issues", "labeled")
    assert event.delivery_id == delivery.delivery_id
    assert event.data["installation"]["id"] == installation.id
    assert event.data["repository"]["full_name"] == "octo/demo"
    assert event.data["issue"]["number"] == 1
    assert [label["name"] for label in event.data["issue"]["labels"]] == ["patchbot"]
    assert event.data["label"]["name"] == "patchbot"
    assert event.data["sender"]["login"] == "maintainer"
    assert github.repo("octo/demo").issues[1].labels == ["patchbot"]
    assert IssuesEvent.model_validate(event.data).issue.number == 1  # the intake can read it


async def test_comment_delivery_carries_the_comment_and_a_wrong_secret_is_refused(
    github: GitHubSimulator,
    installation: Installation,
    hooks: WebhookReceiver,
) -> None:
    events = hooks.events
    delivery = await github.comment_on("octo/demo", 1, "/patchbot fix please", by="maintainer")
    github.send_webhooks_to(hooks.url, "not-the-secret")
    refused = await github.comment_on("octo/demo", 1, "/patchbot stop", by="maintainer")

    assert (delivery.status, refused.status) == (202, 401)
    [event] = events
    data: dict[str, Any] = event.data
    assert (event.event, data["action"]) == ("issue_comment", "created")
    assert data["comment"]["body"] == "/patchbot fix please"
    assert data["comment"]["user"]["login"] == "maintainer"
    assert data["installation"]["id"] == installation.id
    assert "organization" not in data
    assert IssueCommentEvent.model_validate(data).comment.body == "/patchbot fix please"


async def test_installation_delivery_lists_the_installed_repositories(
    github: GitHubSimulator,
    installation: Installation,
    hooks: WebhookReceiver,
) -> None:
    events = hooks.events

    delivery = await github.announce_installation(installation.id)

    assert delivery.status == 202
    [event] = events
    assert (event.event, event.data["action"]) == ("installation", "created")
    assert event.data["installation"]["id"] == installation.id
    assert event.data["installation"]["account"]["login"] == "octo"
    assert event.data["installation"]["app_id"] == github.app_id
    assert [r["full_name"] for r in event.data["repositories"]] == ["octo/demo"]
    assert InstallationEvent.model_validate(event.data).installation.id == installation.id


async def test_suspended_installation_gets_no_token_and_uninstalling_revokes_them(
    github: GitHubSimulator,
    installation: Installation,
    hooks: WebhookReceiver,
) -> None:
    events = hooks.events
    jwt = f"bearer {app_jwt(github.app_id, github.private_key_pem)}"
    tokens = f"{github.api_url}/app/installations/{installation.id}/access_tokens"

    async def token_status() -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.post(tokens, headers={"Authorization": jwt}) as response,
        ):
            return response.status

    live = github.mint_token(installation.id).token
    await github.suspend_installation(installation.id, by="octo")
    suspended = await token_status()
    await github.suspend_installation(installation.id, by="octo", suspended=False)
    lifted = await token_status()
    await github.uninstall(installation.id, by="octo")

    assert (suspended, lifted) == (403, 201)
    assert await status_of(github, "/repos/octo/demo", f"token {live}") == 401
    assert await token_status() == 404
    assert [e.data["action"] for e in events] == ["suspend", "unsuspend", "deleted"]
    assert events[0].data["installation"]["suspended_by"]["login"] == "octo"
    assert events[1].data["installation"]["suspended_at"] is None
    assert [r["full_name"] for r in events[2].data["repositories"]] == ["octo/demo"]
