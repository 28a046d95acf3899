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
from typing import Any, Literal

from bot.testing.simulator.sign_in import SignIns

Permission = Literal["admin", "maintain", "write", "triage", "read"]
ReviewState = Literal["APPROVED", "CHANGES_REQUESTED", "COMMENTED"]


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
    """A comment on one line of a pull request's diff, or a reply in its thread."""

    id: int
    body: str
    path: str
    user: User
    commit_id: str
    diff_hunk: str = "@@ -1 +1 @@"
    line: int | None = 1
    original_line: int | None = None
    """The line when the comment was made; None means the same as `line`."""
    position: int | None = None
    """Lines below the file's first `@@` header in the diff; None means the same as `line`."""
    review_id: int | None = None
    in_reply_to_id: int | None = None
    """The thread's first comment, for a reply."""
    created_at: str = field(default_factory=now_iso)


@dataclass
class Review:
    id: int
    user: User
    state: ReviewState
    body: str
    commit_id: str
    submitted_at: str = field(default_factory=now_iso)


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
    reviews: list[Review] = field(default_factory=list)
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    closed_at: str | None = None
    merged: bool = False
    merged_at: str | None = None
    merged_by: User | None = None
    merge_commit_sha: str | None = None


@dataclass
class CheckRun:
    id: int
    head_sha: str
    name: str
    app: AppInfo
    """The app that made the run: Patchbot for runs made through the REST API."""
    status: str = "queued"
    conclusion: str | None = None
    details_url: str | None = None
    external_id: str | None = None
    started_at: str | None = field(default_factory=now_iso)
    completed_at: str | None = None
    output: dict[str, str | None] = field(default_factory=dict)
    annotations: list[dict[str, Any]] = field(default_factory=list)
    """GitHub annotation objects: path, start_line, end_line, annotation_level, message..."""
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

    def check_suite(self, app: AppInfo, head_sha: str) -> list[CheckRun]:
        """The app's runs on this commit: GitHub groups them in one check suite."""
        return [
            r for r in self.check_runs.values() if r.app.id == app.id and r.head_sha == head_sha
        ]


@dataclass
class Installation:
    id: int
    account: User
    repositories: set[str] = field(default_factory=set)
    """Full names (`owner/name`) the installation may access."""
    created_at: str = field(default_factory=now_iso)
    suspended_at: str | None = None
    suspended_by: User | None = None
    """Who suspended the installation, while it is suspended."""


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
    description: str = "Turns issues into tested pull requests (simulated)."


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
        self.apps: dict[str, AppInfo] = {app_slug: self.app}
        self.sign_ins = SignIns()
        """People signing in to the app: its client id and secret, codes, user tokens."""

    def other_app(self, slug: str) -> AppInfo:
        """Another GitHub App (say a CI) with its own id and `<slug>[bot]` user, made on first
        use; it has no installation token, so it acts only through the simulator's helpers."""
        if slug not in self.apps:
            self.apps[slug] = AppInfo(
                id=self.new_id(),
                slug=slug,
                name=slug.upper() if len(slug) <= 3 else slug.capitalize(),
                owner=self.user(f"{slug}-org", "Organization"),
                bot=self.user(f"{slug}[bot]", "Bot"),
                description=f"Another app ({slug}) acting on the repository (simulated).",
            )
        return self.apps[slug]

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

    def reaches(self, token: Token | None, repo: Repo) -> bool:
        """Whether an installation token may see `repo`: its installation's repositories only."""
        installation = self.installations.get(token.installation_id) if token else None
        return installation is not None and repo.full_name in installation.repositories

    def valid_token(self, value: str) -> Token | None:
        token = self.tokens.get(value)
        if token is None or token.expires_at <= time.time():
            return None
        return token
