"""Signed webhook deliveries from the simulator, built from the real payload fixtures.

The fixture gives the event's shape; the simulator's state replaces the objects in it
(repository, issue, pull request, review, comment, check run or suite, label, sender,
installation), so a handler that reacts to the delivery finds the same objects through REST.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.testing.simulator import gitcommits, gitrepo
from bot.testing.simulator.shapes import (
    APP_EVENTS,
    APP_PERMISSIONS,
    Urls,
    label_json,
    node_id,
    repo_json,
    user_json,
)
from bot.testing.simulator.shapes_activity import comment_json, issue_json
from bot.testing.simulator.shapes_checks import check_run_json, check_suite_json
from bot.testing.simulator.shapes_pulls import (
    open_pulls_at,
    pull_json,
    review_comment_json,
    review_json,
)
from bot.testing.simulator.state import (
    CheckRun,
    Comment,
    Installation,
    Issue,
    Pull,
    Repo,
    Review,
    ReviewComment,
    SimulatorState,
    User,
)
from bot.testing.webhooks import build_delivery, load_fixture

# The fixture each (event, action) is built from; the rest use `<action>.payload.json`.
FIXTURE_NAMES = {("issue_comment", "created"): "created.with-installation"}


@dataclass
class Delivery:
    """One delivery the simulator sent, and how the receiver answered."""

    event: str
    action: str
    delivery_id: str
    status: int
    response: str


@dataclass
class WebhookTarget:
    url: str
    secret: str


def installation_for(state: SimulatorState, repo: Repo) -> int | None:
    for installation in state.installations.values():
        if repo.full_name in installation.repositories:
            return installation.id
    return None


async def payload_for(
    state: SimulatorState,
    urls: Urls,
    event: str,
    action: str,
    *,
    repo: Repo,
    sender: User,
    issue: Issue | Pull | None = None,
    comment: Comment | None = None,
    label: str | None = None,
    pull: Pull | None = None,
    review: Review | None = None,
    review_comment: ReviewComment | None = None,
    check_run: CheckRun | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload of `event`/`action`, from its fixture, filled with the simulator's objects.

    `pull` gives `pull_request` (and `number` for `pull_request` events); `review` and
    `review_comment` need `pull`; `check_run` gives `check_run`, or for `check_suite` events
    the suite of that run's app on its commit; `extra` sets top-level fields (`before`...)."""
    payload = load_fixture(event, FIXTURE_NAMES.get((event, action), action))
    payload.pop("organization", None)
    payload["action"] = action
    payload["repository"] = repo_json(repo, urls)
    payload["sender"] = user_json(sender, urls)
    installation_id = installation_for(state, repo)
    if installation_id is not None:
        payload["installation"] = {
            "id": installation_id,
            "node_id": node_id("Installation", installation_id),
        }
    else:
        payload.pop("installation", None)
    if issue is not None:
        payload["issue"] = issue_json(state, repo, issue, urls)
    if comment is not None:
        payload["comment"] = comment_json(repo, comment, urls)
    if label is not None:
        payload["label"] = label_json(repo, state.label(repo, label), urls)
    if pull is not None:
        payload["pull_request"] = await pull_json(state, repo, pull, urls)
        if event == "pull_request":
            payload["number"] = pull.number
        if review is not None:
            payload["review"] = review_json(repo, pull, review, urls, webhook=True)
        if review_comment is not None:
            payload["comment"] = review_comment_json(repo, pull, review_comment, urls)
    if check_run is not None:
        payload[event] = await _check_json(repo, event, check_run, urls)
    payload.update(extra or {})
    return payload


async def _check_json(repo: Repo, event: str, run: CheckRun, urls: Urls) -> dict[str, Any]:
    prs = await open_pulls_at(repo, run.head_sha, urls)
    if event == "check_run":
        return check_run_json(repo, run, prs, urls)
    heads = [pr["head"]["ref"] for pr in prs]
    if not heads:  # no pull request: a branch at that commit, as a push would name it
        out = await gitrepo.git(
            repo.path, "for-each-ref", "--points-at", run.head_sha, "--format=%(refname:short)"
        )
        heads = out.decode().split()
    return check_suite_json(
        repo,
        repo.check_suite(run.app, run.head_sha),
        head_branch=heads[0] if heads else None,
        before=await gitcommits.first_parent(repo.path, run.head_sha),
        head_commit=await gitcommits.commit_info(repo.path, run.head_sha),
        prs=prs,
        urls=urls,
    )


def installation_payload(
    state: SimulatorState, urls: Urls, installation: Installation, action: str, sender: User
) -> dict[str, Any]:
    """An `installation` event (`created`, `deleted`, ...) for this installation."""
    payload = load_fixture("installation", "created")
    payload.pop("requester", None)
    account = installation.account
    payload["action"] = action
    payload["sender"] = user_json(sender, urls)
    payload["installation"] = {
        **payload["installation"],
        "id": installation.id,
        "account": user_json(account, urls),
        "repository_selection": "selected",
        "access_tokens_url": f"{urls.api}/app/installations/{installation.id}/access_tokens",
        "repositories_url": f"{urls.api}/installation/repositories",
        "html_url": f"{urls.web}/settings/installations/{installation.id}",
        "app_id": state.app.id,
        "app_slug": state.app.slug,
        "target_id": account.id,
        "target_type": account.type,
        "permissions": APP_PERMISSIONS,
        "events": APP_EVENTS,
        "suspended_at": None,
        "suspended_by": None,
    }
    payload["repositories"] = [
        {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
        }
        for repo in (state.repos[name] for name in sorted(installation.repositories))
    ]
    return payload


async def send(
    target: WebhookTarget, event: str, payload: dict[str, Any], timeout: float = 30.0
) -> Delivery:
    """POST one signed delivery to the target and return how it answered."""
    delivery = build_delivery(event, payload, secret=target.secret)
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
        session.post(target.url, data=delivery.body, headers=delivery.headers) as response,
    ):
        text = await response.text()
        return Delivery(
            event, str(payload.get("action", "")), delivery.delivery_id, response.status, text
        )
