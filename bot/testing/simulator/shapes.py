"""JSON shaped like GitHub's REST answers (every field the OpenAPI schemas require): accounts,
repositories, labels, the app and its installations. Issues, comments, checks and refs:
`shapes_activity.py`."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.testing.simulator.state import AppInfo, Installation, Label, Repo, User

Json = dict[str, Any]

APP_PERMISSIONS = {
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "write",
}
APP_EVENTS = [
    "issues",
    "issue_comment",
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "check_run",
    "check_suite",
]


REACTIONS = ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")
"""The reaction contents GitHub accepts, in the order its reaction rollups list them."""


def reaction_rollup(url: str, contents: Iterable[str] = ()) -> Json:
    """The `reactions` summary of an issue or comment: how many of each content it has."""
    counts = Counter(contents)
    return {
        "url": url,
        "total_count": sum(counts.values()),
        **{content: counts[content] for content in REACTIONS},
    }


@dataclass(frozen=True)
class Urls:
    """Where the simulator answers: `api` is the REST base, `web` the HTML and git base."""

    api: str
    web: str


def node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def user_json(user: User, urls: Urls) -> Json:
    api = f"{urls.api}/users/{user.login}"
    return {
        "login": user.login,
        "id": user.id,
        "node_id": node_id("User", user.id),
        "avatar_url": f"{urls.web}/avatars/u/{user.id}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{urls.web}/{user.login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": user.type,
        "user_view_type": "public",
        "site_admin": False,
    }


_REPO_URLS = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def repo_json(repo: Repo, urls: Urls) -> Json:
    api = f"{urls.api}/repos/{repo.full_name}"
    html = f"{urls.web}/{repo.full_name}"
    open_issues = sum(i.state == "open" for i in repo.issues.values()) + sum(
        p.state == "open" for p in repo.pulls.values()
    )
    data: Json = {
        "id": repo.id,
        "node_id": node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "owner": user_json(repo.owner, urls),
        "private": repo.private,
        "visibility": "private" if repo.private else "public",
        "html_url": html,
        "description": repo.description,
        "fork": False,
        "url": api,
        "clone_url": f"{html}.git",
        "git_url": f"{html.replace('http://', 'git://', 1)}.git",
        "ssh_url": f"git@{urls.web.split('://', 1)[1]}:{repo.full_name}.git",
        "svn_url": html,
        "mirror_url": None,
        "homepage": None,
        "language": "Python",
        "default_branch": repo.default_branch,
        "forks": 0,
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers": 0,
        "watchers_count": 0,
        "open_issues": open_issues,
        "open_issues_count": open_issues,
        "size": 1,
        "has_issues": True,
        "has_projects": False,
        "has_wiki": False,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "license": {
            "key": "mit",
            "name": "MIT License",
            "url": f"{urls.api}/licenses/mit",
            "spdx_id": "MIT",
            "node_id": "MDc6TGljZW5zZTEz",
        },
        "topics": [],
        "pushed_at": repo.created_at,
        "created_at": repo.created_at,
        "updated_at": repo.created_at,
        "allow_forking": True,
        "is_template": False,
        "web_commit_signoff_required": False,
        "custom_properties": {},
    }
    data.update({key: api + suffix for key, suffix in _REPO_URLS.items()})
    return data


def label_json(repo: Repo, label: Label, urls: Urls) -> Json:
    return {
        "id": label.id,
        "node_id": node_id("Label", label.id),
        "url": f"{urls.api}/repos/{repo.full_name}/labels/{label.name}",
        "name": label.name,
        "description": label.description,
        "color": label.color,
        "default": False,
        "archived_at": None,
        "archived_by": None,
    }


def author_association(repo: Repo, user: User) -> str:
    if user.login == repo.owner.login:
        return "OWNER"
    if user.login in repo.collaborators:
        return "COLLABORATOR"
    return "NONE"


def app_json(app: AppInfo, urls: Urls) -> Json:
    return {
        "id": app.id,
        "slug": app.slug,
        "node_id": node_id("Integration", app.id),
        "client_id": f"Iv1.sim{app.id:012d}",
        "owner": user_json(app.owner, urls),
        "name": app.name,
        "description": app.description,
        "external_url": f"{urls.web}/apps/{app.slug}",
        "html_url": f"{urls.web}/apps/{app.slug}",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "permissions": APP_PERMISSIONS,
        "events": APP_EVENTS,
    }


def installation_json(app: AppInfo, installation: Installation, urls: Urls) -> Json:
    """The installation that `installation` and `installation_repositories` events carry
    (GitHub's `Installation` object, as `GET /app/installations/{id}` gives it)."""
    account = installation.account
    return {
        "id": installation.id,
        "account": user_json(account, urls),
        "repository_selection": "selected",
        "access_tokens_url": f"{urls.api}/app/installations/{installation.id}/access_tokens",
        "repositories_url": f"{urls.api}/installation/repositories",
        "html_url": f"{urls.web}/settings/installations/{installation.id}",
        "app_id": app.id,
        "app_slug": app.slug,
        "target_id": account.id,
        "target_type": account.type,
        "permissions": APP_PERMISSIONS,
        "events": APP_EVENTS,
        "created_at": installation.created_at,
        "updated_at": installation.suspended_at or installation.created_at,
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": user_json(installation.suspended_by, urls)
        if installation.suspended_by
        else None,
        "suspended_at": installation.suspended_at,
    }
