"""JSON shaped like GitHub's REST answers (every field the OpenAPI schemas require)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from bot.testing.simulator.state import (
    AppInfo,
    CheckRun,
    Comment,
    CommitStatus,
    Issue,
    Label,
    Pull,
    Reaction,
    Repo,
    ReviewComment,
    SimulatorState,
    User,
)

Json = dict[str, Any]

APP_PERMISSIONS = {
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
    "statuses": "write",
}
APP_EVENTS = ["issues", "issue_comment", "pull_request", "check_run"]


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
        "network_count": 0,
        "subscribers_count": 1,
        "allow_forking": True,
        "is_template": False,
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
    }


def issue_json(state: SimulatorState, repo: Repo, issue: Issue | Pull, urls: Urls) -> Json:
    api = f"{urls.api}/repos/{repo.full_name}/issues/{issue.number}"
    is_pull = isinstance(issue, Pull)
    html = f"{urls.web}/{repo.full_name}/{'pull' if is_pull else 'issues'}/{issue.number}"
    data: Json = {
        "id": issue.id,
        "node_id": node_id("Issue", issue.id),
        "url": api,
        "repository_url": f"{urls.api}/repos/{repo.full_name}",
        "labels_url": f"{api}/labels{{/name}}",
        "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "html_url": html,
        "number": issue.number,
        "state": issue.state,
        "state_reason": None,
        "title": issue.title,
        "body": issue.body,
        "user": user_json(issue.user, urls),
        "labels": [label_json(repo, state.label(repo, name), urls) for name in issue.labels],
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "locked": False,
        "active_lock_reason": None,
        "comments": len(repo.comments_on(issue.number)),
        "closed_at": issue.closed_at,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "author_association": author_association(repo, issue.user),
    }
    if is_pull:
        pulls = f"{urls.api}/repos/{repo.full_name}/pulls/{issue.number}"
        data["pull_request"] = {
            "url": pulls,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": None,
        }
    return data


def author_association(repo: Repo, user: User) -> str:
    if user.login == repo.owner.login:
        return "OWNER"
    if user.login in repo.collaborators:
        return "COLLABORATOR"
    return "NONE"


def comment_json(repo: Repo, comment: Comment, urls: Urls) -> Json:
    api = f"{urls.api}/repos/{repo.full_name}"
    return {
        "id": comment.id,
        "node_id": node_id("IssueComment", comment.id),
        "url": f"{api}/issues/comments/{comment.id}",
        "html_url": f"{urls.web}/{repo.full_name}/issues/{comment.issue_number}"
        f"#issuecomment-{comment.id}",
        "issue_url": f"{api}/issues/{comment.issue_number}",
        "body": comment.body,
        "user": user_json(comment.user, urls),
        "created_at": comment.created_at,
        "updated_at": comment.updated_at,
        "author_association": author_association(repo, comment.user),
        "performed_via_github_app": None,
    }


def reaction_json(reaction: Reaction, urls: Urls) -> Json:
    return {
        "id": reaction.id,
        "node_id": node_id("Reaction", reaction.id),
        "user": user_json(reaction.user, urls),
        "content": reaction.content,
        "created_at": reaction.created_at,
    }


def app_json(app: AppInfo, urls: Urls) -> Json:
    return {
        "id": app.id,
        "slug": app.slug,
        "node_id": node_id("Integration", app.id),
        "client_id": f"Iv1.sim{app.id:012d}",
        "owner": user_json(app.owner, urls),
        "name": app.name,
        "description": "Turns issues into tested pull requests (simulated).",
        "external_url": f"{urls.web}/apps/{app.slug}",
        "html_url": f"{urls.web}/apps/{app.slug}",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "permissions": APP_PERMISSIONS,
        "events": APP_EVENTS,
        "installations_count": 1,
    }


def pull_minimal(repo: Repo, pull: Pull, head_sha: str, base_sha: str, urls: Urls) -> Json:
    small_repo = {"id": repo.id, "url": f"{urls.api}/repos/{repo.full_name}", "name": repo.name}
    return {
        "id": pull.id,
        "number": pull.number,
        "url": f"{urls.api}/repos/{repo.full_name}/pulls/{pull.number}",
        "head": {"ref": pull.head, "sha": head_sha, "repo": small_repo},
        "base": {"ref": pull.base, "sha": base_sha, "repo": small_repo},
    }


def check_run_json(app: AppInfo, repo: Repo, run: CheckRun, prs: list[Json], urls: Urls) -> Json:
    api = f"{urls.api}/repos/{repo.full_name}/check-runs/{run.id}"
    output = run.output
    return {
        "id": run.id,
        "node_id": node_id("CheckRun", run.id),
        "head_sha": run.head_sha,
        "external_id": run.external_id,
        "url": api,
        "html_url": f"{urls.web}/{repo.full_name}/runs/{run.id}",
        "details_url": run.details_url or f"{urls.web}/apps/{app.slug}",
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "name": run.name,
        "output": {
            "title": output.get("title"),
            "summary": output.get("summary"),
            "text": output.get("text"),
            "annotations_count": 0,
            "annotations_url": f"{api}/annotations",
        },
        "check_suite": {"id": run.check_suite_id},
        "app": app_json(app, urls),
        "pull_requests": prs,
    }


def status_json(repo: Repo, status: CommitStatus, urls: Urls) -> Json:
    assert status.creator is not None
    return {
        "url": f"{urls.api}/repos/{repo.full_name}/statuses/{status.sha}",
        "avatar_url": f"{urls.web}/avatars/u/{status.creator.id}?v=4",
        "id": status.id,
        "node_id": node_id("StatusContext", status.id),
        "state": status.state,
        "description": status.description,
        "target_url": status.target_url,
        "context": status.context,
        "created_at": status.created_at,
        "updated_at": status.created_at,
        "creator": user_json(status.creator, urls),
    }


def ref_json(repo: Repo, ref: str, sha: str, urls: Urls) -> Json:
    api = f"{urls.api}/repos/{repo.full_name}"
    return {
        "ref": ref,
        "node_id": node_id("Ref", abs(hash((repo.id, ref))) % 10**9),
        "url": f"{api}/git/{ref}",
        "object": {"type": "commit", "sha": sha, "url": f"{api}/git/commits/{sha}"},
    }


def review_comment_json(repo: Repo, pull: Pull, comment: ReviewComment, urls: Urls) -> Json:
    api = f"{urls.api}/repos/{repo.full_name}/pulls"
    html = f"{urls.web}/{repo.full_name}/pull/{pull.number}#discussion_r{comment.id}"
    return {
        "url": f"{api}/comments/{comment.id}",
        "id": comment.id,
        "node_id": node_id("PullRequestReviewComment", comment.id),
        "pull_request_review_id": comment.id + 1,
        "diff_hunk": comment.diff_hunk,
        "path": comment.path,
        "position": comment.line,
        "original_position": comment.line,
        "commit_id": comment.commit_id,
        "original_commit_id": comment.commit_id,
        "user": user_json(comment.user, urls),
        "body": comment.body,
        "created_at": comment.created_at,
        "updated_at": comment.created_at,
        "html_url": html,
        "pull_request_url": f"{api}/{pull.number}",
        "author_association": author_association(repo, comment.user),
        "_links": {
            "self": {"href": f"{api}/comments/{comment.id}"},
            "html": {"href": html},
            "pull_request": {"href": f"{api}/{pull.number}"},
        },
        "line": comment.line,
        "side": "RIGHT",
    }
