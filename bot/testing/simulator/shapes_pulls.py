"""JSON shaped like GitHub's answers for pull requests, their reviews and review comments.

A pull's head and base shas are read from the bare repository each time, so a push (over git
or by `GitHubSimulator.push_commit`) shows in the next answer and webhook.
"""

from __future__ import annotations

from bot.testing.simulator import gitrepo
from bot.testing.simulator.shapes import (
    Json,
    Urls,
    author_association,
    label_json,
    node_id,
    reaction_rollup,
    repo_json,
    user_json,
)
from bot.testing.simulator.state import Pull, Repo, Review, ReviewComment, SimulatorState

ZERO_SHA = "0" * 40
SINGLE_PULL_ONLY = frozenset(
    {
        "additions",
        "changed_files",
        "comments",
        "commits",
        "deletions",
        "maintainer_can_modify",
        "mergeable",
        "mergeable_state",
        "merged",
        "merged_by",
        "rebaseable",
        "review_comments",
    }
)
"""Fields only one pull request's own answer (and `pull_request` events) carry; lists, the
`requested_reviewers` answer and review events give a pull request without them."""


async def pull_json(state: SimulatorState, repo: Repo, pull: Pull, urls: Urls) -> Json:
    api, web_url = urls.api, urls.web
    head_sha = await gitrepo.ref_sha(repo.path, pull.head) or ZERO_SHA
    base_sha = await gitrepo.ref_sha(repo.path, pull.base) or ZERO_SHA
    stats = (0, 0, 0, 0)  # a deleted branch has no diff
    if ZERO_SHA not in (base_sha, head_sha):
        stats = await gitrepo.diff_stats(repo.path, base_sha, head_sha)
    additions, deletions, changed, commits = stats
    rest = f"{api}/repos/{repo.full_name}"
    html = f"{web_url}/{repo.full_name}/pull/{pull.number}"
    self_url = f"{rest}/pulls/{pull.number}"
    links = {
        "self": self_url,
        "html": html,
        "issue": f"{rest}/issues/{pull.number}",
        "comments": f"{rest}/issues/{pull.number}/comments",
        "review_comments": f"{self_url}/comments",
        "review_comment": f"{rest}/pulls/comments{{/number}}",
        "commits": f"{self_url}/commits",
        "statuses": f"{rest}/statuses/{head_sha}",
    }

    def side(ref: str, sha: str) -> Json:
        return {
            "label": f"{repo.owner.login}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": user_json(repo.owner, urls),
            "repo": repo_json(repo, urls),
        }

    return {
        "url": self_url,
        "id": pull.id,
        "node_id": f"PR_sim{pull.id}",
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": links["issue"],
        "commits_url": links["commits"],
        "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"],
        "comments_url": links["comments"],
        "statuses_url": links["statuses"],
        "number": pull.number,
        "state": pull.state,
        "locked": False,
        "title": pull.title,
        "user": user_json(pull.user, urls),
        "body": pull.body,
        "labels": [label_json(repo, state.label(repo, n), urls) for n in pull.labels],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": pull.created_at,
        "updated_at": pull.updated_at,
        "closed_at": pull.closed_at,
        "merged_at": pull.merged_at,
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [user_json(state.user(r), urls) for r in pull.requested_reviewers],
        "requested_teams": [],
        "head": side(pull.head, head_sha),
        "base": side(pull.base, base_sha),
        "_links": {name: {"href": href} for name, href in links.items()},
        "author_association": author_association(repo, pull.user),
        "auto_merge": None,
        "draft": pull.draft,
        "merged": pull.merged,
        "mergeable": None if pull.state == "closed" else True,
        "rebaseable": None if pull.state == "closed" else True,
        "mergeable_state": "unknown" if pull.state == "closed" else "clean",
        "merged_by": user_json(pull.merged_by, urls) if pull.merged_by else None,
        "comments": len(repo.comments_on(pull.number)),
        "review_comments": len(pull.review_comments),
        "maintainer_can_modify": pull.maintainer_can_modify,
        "commits": commits,
        "additions": additions,
        "deletions": deletions,
        "changed_files": changed,
    }


def pull_simple(full: Json) -> Json:
    """The pull request as lists and review events give it, from `pull_json`'s answer."""
    return {key: value for key, value in full.items() if key not in SINGLE_PULL_ONLY}


def pull_minimal(repo: Repo, pull: Pull, head_sha: str, base_sha: str, urls: Urls) -> Json:
    small_repo = {"id": repo.id, "url": f"{urls.api}/repos/{repo.full_name}", "name": repo.name}
    return {
        "id": pull.id,
        "number": pull.number,
        "url": f"{urls.api}/repos/{repo.full_name}/pulls/{pull.number}",
        "head": {"ref": pull.head, "sha": head_sha, "repo": small_repo},
        "base": {"ref": pull.base, "sha": base_sha, "repo": small_repo},
    }


async def open_pulls_at(repo: Repo, sha: str, urls: Urls) -> list[Json]:
    """The open pulls whose head is `sha`, as check runs and suites list them."""
    found = []
    for pull in repo.pulls.values():
        if pull.state == "open" and await gitrepo.ref_sha(repo.path, pull.head) == sha:
            base_sha = await gitrepo.ref_sha(repo.path, pull.base) or ZERO_SHA
            found.append(pull_minimal(repo, pull, sha, base_sha, urls))
    return found


def review_json(
    repo: Repo, pull: Pull, review: Review, urls: Urls, *, webhook: bool = False
) -> Json:
    """A review as the REST API lists it; `webhook=True` gives it as `pull_request_review`
    events carry it: state in lower case, and an empty body as null."""
    pull_url = f"{urls.api}/repos/{repo.full_name}/pulls/{pull.number}"
    html = f"{urls.web}/{repo.full_name}/pull/{pull.number}#pullrequestreview-{review.id}"
    return {
        "id": review.id,
        "node_id": node_id("PullRequestReview", review.id),
        "user": user_json(review.user, urls),
        "body": (review.body or None) if webhook else review.body,
        "state": review.state.lower() if webhook else review.state,
        "html_url": html,
        "pull_request_url": pull_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
        "submitted_at": review.submitted_at,
        "commit_id": review.commit_id,
        "author_association": author_association(repo, review.user),
    }


def review_comment_json(repo: Repo, pull: Pull, comment: ReviewComment, urls: Urls) -> Json:
    api = f"{urls.api}/repos/{repo.full_name}/pulls"
    html = f"{urls.web}/{repo.full_name}/pull/{pull.number}#discussion_r{comment.id}"
    line = comment.line
    original_line = comment.original_line if comment.original_line is not None else line
    position = comment.position if comment.position is not None else line
    data: Json = {
        "url": f"{api}/comments/{comment.id}",
        "id": comment.id,
        "node_id": node_id("PullRequestReviewComment", comment.id),
        "pull_request_review_id": comment.review_id,
        "diff_hunk": comment.diff_hunk,
        "path": comment.path,
        "position": position,
        "original_position": position,
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
        "reactions": reaction_rollup(f"{api}/comments/{comment.id}/reactions"),
        "start_line": None,
        "original_start_line": None,
        "start_side": None,
        "line": line,
        "original_line": original_line,
        "side": "RIGHT",
        "subject_type": "line",
    }
    if comment.in_reply_to_id is not None:
        data["in_reply_to_id"] = comment.in_reply_to_id
    return data
