"""Typed views of the webhook payloads Patchbot acts on (only the fields it reads)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class User(_Payload):
    login: str
    id: int
    type: str = "User"
    """`User`, `Bot` or `Organization`."""

    @property
    def is_bot(self) -> bool:
        return self.type == "Bot" or self.login.endswith("[bot]")


class RepositoryRef(_Payload):
    id: int
    name: str
    full_name: str
    """`owner/name`."""


class Repository(RepositoryRef):
    owner: User
    private: bool = False
    default_branch: str | None = None


class Label(_Payload):
    name: str


class Issue(_Payload):
    number: int
    title: str
    body: str | None = None
    user: User
    state: str | None = None
    """`open` or `closed`; some events (`pinned`, `unpinned`) leave it out."""
    labels: list[Label] = []
    pull_request: dict[str, Any] | None = None
    """Present when the issue is a pull request."""
    updated_at: str | None = None
    """When it last changed (adding a label changes it): a new label event from a replayed one."""


class Comment(_Payload):
    id: int
    body: str
    user: User
    html_url: str


class InstallationRef(_Payload):
    id: int


class Installation(InstallationRef):
    account: User
    app_id: int
    repository_selection: str
    """`all` or `selected`."""
    suspended_at: str | None = None


class _Event(_Payload):
    action: str | None = None
    sender: User
    installation: InstallationRef | None = None

    @property
    def installation_id(self) -> int | None:
        return self.installation.id if self.installation else None


class IssuesEvent(_Event):
    action: str
    issue: Issue
    repository: Repository
    label: Label | None = None
    """The label added or removed (`labeled`, `unlabeled`)."""


class IssueCommentEvent(_Event):
    action: str
    issue: Issue
    comment: Comment
    repository: Repository


class InstallationEvent(_Event):
    action: str
    installation: Installation
    repositories: list[RepositoryRef] | None = None
    """Repositories the installation covers, when it covers selected ones."""


class InstallationRepositoriesEvent(_Event):
    action: str
    installation: Installation
    repository_selection: str
    repositories_added: list[RepositoryRef]
    repositories_removed: list[RepositoryRef]


class Branch(_Payload):
    ref: str
    sha: str


class BranchRef(Branch):
    repo: RepositoryRef | None = None
    """None when the fork it came from was deleted."""


class PullRequest(_Payload):
    number: int
    title: str = ""
    state: str
    user: User
    head: BranchRef
    base: BranchRef
    merged: bool | None = None
    created_at: str | None = None
    closed_at: str | None = None
    merged_at: str | None = None
    merged_by: User | None = None
    merge_commit_sha: str | None = None


class Review(_Payload):
    id: int
    user: User
    body: str | None = None
    state: str
    """`approved`, `changes_requested`, `commented` or `dismissed` (lowercase in webhooks)."""
    commit_id: str | None = None


class ReviewComment(_Payload):
    id: int
    user: User
    body: str
    path: str
    line: int | None = None
    original_line: int | None = None
    diff_hunk: str | None = None
    pull_request_review_id: int | None = None
    in_reply_to_id: int | None = None


class AppRef(_Payload):
    id: int
    slug: str | None = None


class PullRequestMinimal(_Payload):
    """A pull request as check runs and suites list them (no author, no full repository)."""

    number: int
    head: Branch


class CheckOutput(_Payload):
    title: str | None = None
    summary: str | None = None
    text: str | None = None
    annotations_count: int = 0


class CheckRun(_Payload):
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None = None
    app: AppRef | None = None
    output: CheckOutput = CheckOutput()
    pull_requests: list[PullRequestMinimal] = []
    html_url: str | None = None


class CheckSuite(_Payload):
    id: int
    head_sha: str
    head_branch: str | None = None
    status: str | None = None
    conclusion: str | None = None
    app: AppRef | None = None
    pull_requests: list[PullRequestMinimal] = []


class PullRequestEvent(_Event):
    action: str
    number: int
    pull_request: PullRequest
    repository: Repository


class PullRequestReviewEvent(_Event):
    action: str
    review: Review
    pull_request: PullRequest
    repository: Repository


class PullRequestReviewCommentEvent(_Event):
    action: str
    comment: ReviewComment
    pull_request: PullRequest
    repository: Repository


class CheckRunEvent(_Event):
    action: str
    check_run: CheckRun
    repository: Repository


class CheckSuiteEvent(_Event):
    action: str
    check_suite: CheckSuite
    repository: Repository


class PushCommit(_Payload):
    id: str
    message: str


class PushEvent(_Payload):
    """A push to a branch (it has no `action`)."""

    ref: str
    before: str
    after: str
    commits: list[PushCommit] = []
    repository: Repository
    sender: User
    installation: InstallationRef | None = None


class StatusEvent(_Payload):
    """A commit status set by another app or a CI service (it has no `action`)."""

    sha: str
    state: str
    context: str
    repository: Repository
    sender: User
    installation: InstallationRef | None = None


class PingEvent(_Payload):
    zen: str
    hook_id: int
    sender: User | None = None


EVENT_MODELS: dict[str, type[_Payload]] = {
    "issues": IssuesEvent,
    "issue_comment": IssueCommentEvent,
    "installation": InstallationEvent,
    "installation_repositories": InstallationRepositoriesEvent,
    "ping": PingEvent,
    "pull_request": PullRequestEvent,
    "pull_request_review": PullRequestReviewEvent,
    "pull_request_review_comment": PullRequestReviewCommentEvent,
    "check_run": CheckRunEvent,
    "check_suite": CheckSuiteEvent,
    "push": PushEvent,
}
"""The model of each event Patchbot reads, by the event's `X-GitHub-Event` name."""
