"""The simulated GitHub's in-memory state: users, repositories, issues, pulls, checks, tokens.

Tests seed it through `GitHubSimulator` and read it back directly; git refs live in the real
bare repositories (see `gitrepo.py`), never here.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

Permission = Literal["admin", "maintain", "write", "triage", "read"]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class User:
    login: str
    id: int
    type: Literal["User", "Bot", "Organization"] = "User"


@dataclass
class Label:
    name: str
    id: int
    color: str = "ededed"
    description: str | None = None


@dataclass
class Reaction:
    id: int
    content: str
    user: User
    created_at: str = field(default_factory=now_iso)


@dataclass
class Comment:
    id: int
    issue_number: int
    body: str
    user: User
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class Issue:
    number: int
    id: int
    title: str
    body: str | None
    user: User
    labels: list[str] = field(default_factory=list)
    state: Literal["open", "closed"] = "open"
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    closed_at: str | None = None


@dataclass
class ReviewComment:
    id: int
    body: str
    path: str
    user: User
    commit_id: str
    diff_hunk: str = "@@ -1 +1 @@"
    line: int | None = 1
    created_at: str = field(default_factory=now_iso)


@dataclass
class Pull:
    """A pull request; it shares the number space with issues, as on GitHub."""

    number: int
    id: int
    title: str
    body: str | None
    user: User
    head: str
    base: str
    draft: bool = False
    state: Literal["open", "closed"] = "open"
    maintainer_can_modify: bool = False
    labels: list[str] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    review_comments: list[ReviewComment] = field(default_factory=list)
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    closed_at: str | None = None


@dataclass
class CheckRun:
    id: int
    head_sha: str
    name: str
    status: str = "queued"
    conclusion: str | None = None
    details_url: str | None = None
    external_id: str | None = None
    started_at: str | None = field(default_factory=now_iso)
    completed_at: str | None = None
    output: dict[str, str | None] = field(default_factory=dict)
    check_suite_id: int = 0


@dataclass
class CommitStatus:
    id: int
    sha: str
    state: str
    context: str = "default"
    description: str | None = None
    target_url: str | None = None
    creator: User | None = None
    created_at: str = field(default_factory=now_iso)


@dataclass
class Repo:
    owner: User
    name: str
    id: int
    path: Path
    """The real bare repository on disk."""
    default_branch: str = "main"
    private: bool = True
    description: str | None = None
    issues: dict[int, Issue] = field(default_factory=dict)
    pulls: dict[int, Pull] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    collaborators: dict[str, Permission] = field(default_factory=dict)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    statuses: list[CommitStatus] = field(default_factory=list)
    created_at: str = field(default_factory=now_iso)

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"

    def next_number(self) -> int:
        return max([0, *self.issues, *self.pulls]) + 1

    def comments_on(self, number: int) -> list[Comment]:
        return [c for c in self.comments.values() if c.issue_number == number]


@dataclass
class Installation:
    id: int
    account: User
    repositories: set[str] = field(default_factory=set)
    """Full names (`owner/name`) the installation may access."""


@dataclass
class Token:
    token: str
    installation_id: int
    expires_at: float


@dataclass
class AppInfo:
    id: int
    slug: str
    name: str
    owner: User
    bot: User
    """The `<slug>[bot]` user that comments, PRs and check runs made with tokens are by."""


class SimulatorState:
    """Everything the simulated GitHub knows, except git objects and refs."""

    def __init__(self, app_id: int, app_slug: str) -> None:
        self._ids = itertools.count(1001)
        self.users: dict[str, User] = {}
        self.repos: dict[str, Repo] = {}
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, Token] = {}
        owner = self.user("patchbot-dev", "Organization")
        self.app = AppInfo(
            id=app_id,
            slug=app_slug,
            name=app_slug.capitalize(),
            owner=owner,
            bot=self.user(f"{app_slug}[bot]", "Bot"),
        )

    def new_id(self) -> int:
        return next(self._ids)

    def user(self, login: str, kind: Literal["User", "Bot", "Organization"] = "User") -> User:
        """The user with this login, created on first use."""
        if login not in self.users:
            self.users[login] = User(login=login, id=self.new_id(), type=kind)
        return self.users[login]

    def repo(self, full_name: str) -> Repo | None:
        """The repository, matched case-insensitively as GitHub does."""
        lowered = full_name.lower()
        return next((r for n, r in self.repos.items() if n.lower() == lowered), None)

    def label(self, repo: Repo, name: str) -> Label:
        if name not in repo.labels:
            repo.labels[name] = Label(name=name, id=self.new_id())
        return repo.labels[name]

    def mint_token(self, installation_id: int, lifetime: float = 3600.0) -> Token:
        token = Token(
            token="ghs_" + secrets.token_urlsafe(27).replace("-", "a").replace("_", "b")[:36],
            installation_id=installation_id,
            expires_at=time.time() + lifetime,
        )
        self.tokens[token.token] = token
        return token

    def valid_token(self, value: str) -> Token | None:
        token = self.tokens.get(value)
        if token is None or token.expires_at <= time.time():
            return None
        return token
