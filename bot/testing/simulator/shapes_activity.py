"""JSON shaped like GitHub's REST answers for issues, comments, reactions, statuses and refs.

Pulls and reviews: `shapes_pulls.py`; check runs and suites: `shapes_checks.py`."""

from __future__ import annotations

from bot.testing.simulator.shapes import (
    Json,
    Urls,
    author_association,
    label_json,
    node_id,
    reaction_rollup,
    user_json,
)
from bot.testing.simulator.state import (
    Comment,
    CommitStatus,
    Issue,
    Pull,
    Reaction,
    Repo,
    SimulatorState,
)


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
        "reactions": reaction_rollup(f"{api}/reactions"),
        "timeline_url": f"{api}/timeline",
        "performed_via_github_app": None,
        "draft": issue.draft if isinstance(issue, Pull) else False,
    }
    if isinstance(issue, Pull):
        pulls = f"{urls.api}/repos/{repo.full_name}/pulls/{issue.number}"
        data["pull_request"] = {
            "url": pulls,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": issue.merged_at,
        }
    return data


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
        "reactions": reaction_rollup(
            f"{api}/issues/comments/{comment.id}/reactions", (r.content for r in comment.reactions)
        ),
    }


def reaction_json(reaction: Reaction, urls: Urls) -> Json:
    return {
        "id": reaction.id,
        "node_id": node_id("Reaction", reaction.id),
        "user": user_json(reaction.user, urls),
        "content": reaction.content,
        "created_at": reaction.created_at,
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
