"""Webhook payloads built from the simulator's state, as GitHub sends them.

Each payload is the event's envelope (`action`, `sender`, `installation`, ...) around the
simulator's own objects in the shapes its REST answers give them (repository, issue, pull
request, review, comment, check run or suite, label), so a handler that reacts to a delivery
finds the same objects through REST. Tests check every payload against GitHub's published
webhook schema (`tests/github/test_simulator_payloads.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.testing.simulator import gitcommits, gitrepo
from bot.testing.simulator.shapes import (
    Json,
    Urls,
    installation_json,
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
    pull_simple,
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

SUITE_ONLY = frozenset({"head_commit", "latest_check_runs_count", "check_runs_url"})
"""Fields of a check suite that the one inside a `check_run` event leaves out."""
LISTING_REPOSITORIES = frozenset({"created", "deleted", "new_permissions_accepted"})
"""The `installation` actions whose payload lists the installation's repositories."""


def installation_for(state: SimulatorState, repo: Repo) -> Installation | None:
    """The app's installation that covers `repo`, if any."""
    return next((i for i in state.installations.values() if repo.full_name in i.repositories), None)


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
) -> Json:
    """The payload of `event`/`action` about `repo`, filled with the simulator's objects.

    `pull` gives `pull_request` (and `number` for `pull_request` events); `review` and
    `review_comment` need `pull`; `check_run` gives `check_run`, or for `check_suite` events
    the suite of that run's app on its commit; `extra` sets top-level fields (`before`...)."""
    payload: Json = {"action": action}
    if issue is not None:
        payload["issue"] = issue_json(state, repo, issue, urls)
    if comment is not None:
        payload["comment"] = comment_json(repo, comment, urls)
    if label is not None:
        payload["label"] = label_json(repo, state.label(repo, label), urls)
    if pull is not None:
        if event == "pull_request":
            payload["number"] = pull.number
        full = await pull_json(state, repo, pull, urls)
        payload["pull_request"] = full if event == "pull_request" else pull_simple(full)
        if review is not None:
            payload["review"] = review_json(repo, pull, review, urls, webhook=True)
        if review_comment is not None:
            payload["comment"] = review_comment_json(repo, pull, review_comment, urls)
    if check_run is not None:
        payload[event] = await _check_json(repo, event, check_run, urls)
    payload["repository"] = repo_json(repo, urls)
    payload["sender"] = user_json(sender, urls)
    installation = installation_for(state, repo)
    if installation is not None:
        payload["installation"] = {
            "id": installation.id,
            "node_id": node_id("Installation", installation.id),
        }
    payload.update(extra or {})
    return payload


async def _check_json(repo: Repo, event: str, run: CheckRun, urls: Urls) -> Json:
    """`check_suite` events carry the suite of the run's app on its commit; `check_run` events
    the run, with that suite in short."""
    prs = await open_pulls_at(repo, run.head_sha, urls)
    heads = [pr["head"]["ref"] for pr in prs]
    if not heads:  # no pull request: a branch at that commit, as a push would name it
        out = await gitrepo.git(
            repo.path, "for-each-ref", "--points-at", run.head_sha, "--format=%(refname:short)"
        )
        heads = out.decode().split()
    suite = check_suite_json(
        repo,
        repo.check_suite(run.app, run.head_sha),
        head_branch=heads[0] if heads else None,
        before=await gitcommits.first_parent(repo.path, run.head_sha),
        head_commit=await gitcommits.commit_info(repo.path, run.head_sha),
        prs=prs,
        urls=urls,
    )
    if event == "check_suite":
        return suite
    short = {k: v for k, v in suite.items() if k not in SUITE_ONLY}
    return {**check_run_json(repo, run, prs, urls), "check_suite": short}


def _repository_refs(state: SimulatorState, full_names: Iterable[str]) -> list[Json]:
    """Repositories as installation events list them: id, name, full name, private."""
    return [
        {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
        }
        for repo in (state.repos[name] for name in sorted(full_names))
    ]


def installation_payload(
    state: SimulatorState, urls: Urls, installation: Installation, action: str, sender: User
) -> Json:
    """An `installation` event (`created`, `deleted`, `suspend`, ...) for this installation;
    `created`, `deleted` and `new_permissions_accepted` list its repositories."""
    payload: Json = {
        "action": action,
        "installation": installation_json(state.app, installation, urls),
        "sender": user_json(sender, urls),
    }
    if action in LISTING_REPOSITORIES:
        payload["repositories"] = _repository_refs(state, installation.repositories)
    return payload


def installation_repositories_payload(
    state: SimulatorState,
    urls: Urls,
    installation: Installation,
    action: str,
    repositories: Iterable[str],
    sender: User,
) -> Json:
    """An `installation_repositories` event: `repositories` were `added` to the installation,
    or `removed` from it."""
    changed = _repository_refs(state, repositories)
    return {
        "action": action,
        "installation": installation_json(state.app, installation, urls),
        "repository_selection": "selected",
        "repositories_added": changed if action == "added" else [],
        "repositories_removed": changed if action == "removed" else [],
        "requester": None,
        "sender": user_json(sender, urls),
    }


async def push_payload(
    state: SimulatorState,
    urls: Urls,
    repo: Repo,
    sender: User,
    *,
    branch: str,
    before: str,
    after: str,
) -> Json:
    """A `push` event (it has no `action`): `branch` moved from `before` to `after`, one new
    commit, with the keys GitHub's carries (`ref`, `commits`, `head_commit`, `pusher`...)."""
    info = await gitcommits.commit_info(repo.path, after)
    commit = {
        "id": after,
        "tree_id": info["tree_id"],
        "distinct": True,
        "message": info["message"],
        "timestamp": info["timestamp"],
        "url": f"{urls.web}/{repo.full_name}/commit/{after}",
        "author": {"name": info["author_name"], "email": info["author_email"]},
        "committer": {"name": info["committer_name"], "email": info["committer_email"]},
        "added": [],
        "removed": [],
        "modified": [],
    }
    payload: Json = {
        "ref": f"refs/heads/{branch}",
        "before": before,
        "after": after,
        "created": False,
        "deleted": False,
        "forced": False,
        "base_ref": None,
        "compare": f"{urls.web}/{repo.full_name}/compare/{before[:12]}...{after[:12]}",
        "commits": [commit],
        "head_commit": commit,
        "repository": repo_json(repo, urls),
        "pusher": {"name": sender.login, "email": info["author_email"]},
        "sender": user_json(sender, urls),
    }
    installation = installation_for(state, repo)
    if installation is not None:
        payload["installation"] = {
            "id": installation.id,
            "node_id": node_id("Installation", installation.id),
        }
    return payload
