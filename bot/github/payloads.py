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
}
"""The model of each event Patchbot reads, by the event's `X-GitHub-Event` name."""
