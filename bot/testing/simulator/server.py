"""`GitHubSimulator`: the simulated GitHub as an aiohttp server on 127.0.0.1 and an ephemeral port.

REST at `{url}/api/v3` (as on GitHub Enterprise Server), git smart HTTP at
`{url}/{owner}/{repo}.git`. Use it as an async context manager:

    async with GitHubSimulator(tmp_path) as github:
        repo = github.add_repo("octo/demo", files={"calc.py": "..."})
        installation = github.add_installation("octo", ["octo/demo"])
        ...  # point the bot at github.api_url with app id github.app_id, github.private_key_pem
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.testing.simulator import (
    git_http,
    gitrepo,
    oauth_web,
    rest_apps,
    rest_checks,
    rest_issues,
    rest_pulls,
    rest_repos,
    rest_reviews,
    rest_users,
)
from bot.testing.simulator.activity_installations import InstallationActivity
from bot.testing.simulator.activity_pulls import PullActivity
from bot.testing.simulator.context import SIMULATED, RecordedRequest, Simulated
from bot.testing.simulator.deliveries import Delivery, WebhookTarget, send
from bot.testing.simulator.faults import FAULTS, Faults
from bot.testing.simulator.keys import generate_private_key, public_key_of
from bot.testing.simulator.middleware import API_PREFIX, authenticate, record_and_fault
from bot.testing.simulator.payloads import payload_for
from bot.testing.simulator.shapes import Json, Urls
from bot.testing.simulator.state import (
    CheckRun,
    Comment,
    Installation,
    Issue,
    Permission,
    Repo,
    Review,
    ReviewComment,
    SimulatorState,
    Token,
    now_iso,
)

REST_ROUTES = tuple(
    module.routes
    for module in (
        rest_apps,
        rest_repos,
        rest_issues,
        rest_pulls,
        rest_reviews,
        rest_checks,
        rest_users,
    )
)
"""Every REST route the simulator serves, under `API_PREFIX`."""


class GitHubSimulator(PullActivity, InstallationActivity):
    """A GitHub for tests and the demo: REST, git over HTTP, webhooks, fault injection.

    People and other apps acting on pull requests (reviews, pushes, CI results, closing):
    `PullActivity` in `activity_pulls.py`; installing, suspending and uninstalling the app:
    `InstallationActivity` in `activity_installations.py`."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        app_id: int = 4242,
        app_slug: str = "patchbot",
        private_key_pem: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._tmp = None if root is not None else tempfile.mkdtemp(prefix="github-sim-")
        self.root = root if root is not None else Path(self._tmp or ".")
        self.app_id = app_id
        self.private_key_pem = private_key_pem or generate_private_key()
        """The app's private key: give it to Patchbot as PRIVATE_KEY."""
        self.state = SimulatorState(app_id, app_slug)
        self.faults = Faults()
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self._sim: Simulated | None = None
        self.webhook: WebhookTarget | None = None
        """Where deliveries go: set it with `send_webhooks_to`."""
        self.deliveries: list[Delivery] = []

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        web_url = f"http://{self._host}:{sock.getsockname()[1]}"
        self._sim = Simulated(
            self.state, Urls(f"{web_url}{API_PREFIX}", web_url), public_key_of(self.private_key_pem)
        )
        api = web.Application(middlewares=[authenticate])
        for routes in REST_ROUTES:
            api.add_routes(routes)
        app = web.Application(middlewares=[record_and_fault], client_max_size=1024**3)
        app[SIMULATED] = self._sim
        app[FAULTS] = self.faults
        app.add_subapp(API_PREFIX, api)
        app.add_routes(git_http.routes)
        app.add_routes(oauth_web.routes)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    async def __aenter__(self) -> GitHubSimulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def _running(self) -> Simulated:
        if self._sim is None:
            raise RuntimeError("the simulator is not started: use `async with GitHubSimulator()`")
        return self._sim

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`: the web and git base."""
        return self._running.urls.web

    @property
    def api_url(self) -> str:
        """The REST base URL: give it to Patchbot as GITHUB_API_URL."""
        return self._running.urls.api

    @property
    def urls(self) -> Urls:
        return self._running.urls

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request answered so far, oldest first."""
        return self._running.requests

    @property
    def client_id(self) -> str:
        """The app's OAuth client id, for people signing in: give it as GITHUB_CLIENT_ID."""
        return self.state.sign_ins.client_id

    @property
    def client_secret(self) -> str:
        """The app's OAuth client secret: give it as GITHUB_CLIENT_SECRET."""
        return self.state.sign_ins.client_secret

    def set_token_lifetime(self, seconds: float) -> None:
        """Make tokens minted from now on expire after `seconds` (GitHub: 3600)."""
        self._running.token_lifetime = seconds

    def git_url(self, full_name: str) -> str:
        return f"{self.url}/{full_name}.git"

    # --- seeding -------------------------------------------------------------------------

    def add_repo(
        self,
        full_name: str,
        *,
        files: Mapping[str, str | bytes] | None = None,
        source: Path | None = None,
        default_branch: str = "main",
        private: bool = True,
        description: str | None = None,
    ) -> Repo:
        """A repository whose default branch holds `files` (or a copy of directory `source`)."""
        owner, name = full_name.split("/")
        path = self.root / "repos" / owner / f"{name}.git"
        gitrepo.create_bare_repo(path, files=files, source=source, default_branch=default_branch)
        repo = Repo(
            owner=self.state.user(owner),
            name=name,
            id=self.state.new_id(),
            path=path,
            default_branch=default_branch,
            private=private,
            description=description,
        )
        self.state.repos[repo.full_name] = repo
        return repo

    def add_installation(
        self, account: str, repositories: Iterable[str], installation_id: int | None = None
    ) -> Installation:
        installation = Installation(
            id=installation_id or self.state.new_id(),
            account=self.state.user(account),
            repositories=set(repositories),
        )
        self.state.installations[installation.id] = installation
        return installation

    def add_collaborator(self, full_name: str, login: str, permission: Permission) -> None:
        self.state.user(login)
        self.repo(full_name).collaborators[login] = permission

    def add_issue(
        self,
        full_name: str,
        title: str,
        body: str | None = None,
        *,
        author: str = "octocat",
        labels: Iterable[str] = (),
    ) -> Issue:
        repo = self.repo(full_name)
        issue = Issue(
            number=repo.next_number(),
            id=self.state.new_id(),
            title=title,
            body=body,
            user=self.state.user(author),
            labels=list(labels),
        )
        for label in issue.labels:
            self.state.label(repo, label)
        repo.issues[issue.number] = issue
        return issue

    def add_comment(self, full_name: str, number: int, body: str, *, author: str) -> Comment:
        repo = self.repo(full_name)
        comment = Comment(self.state.new_id(), number, body, self.state.user(author))
        repo.comments[comment.id] = comment
        return comment

    def mint_token(self, installation_id: int, lifetime: float = 3600.0) -> Token:
        """An installation token as `POST /app/installations/{id}/access_tokens` would make."""
        return self.state.mint_token(installation_id, lifetime)

    # --- inspection ----------------------------------------------------------------------

    def repo(self, full_name: str) -> Repo:
        """The seeded repository; KeyError if `add_repo` never made it."""
        repo = self.state.repo(full_name)
        if repo is None:
            raise KeyError(f"no repository {full_name} in the simulator; add_repo() it first")
        return repo

    async def branch_sha(self, full_name: str, branch: str) -> str | None:
        """The commit a branch points to in the bare repository (after pushes), or None."""
        return await gitrepo.ref_sha(self.repo(full_name).path, f"refs/heads/{branch}")

    # --- webhooks: act as a person on GitHub, and deliver the event ------------------------

    def send_webhooks_to(self, url: str, secret: str) -> None:
        """Deliver events to `url`, signed with `secret` (the app's webhook settings)."""
        self.webhook = WebhookTarget(url, secret)

    async def payload(
        self,
        event: str,
        action: str,
        full_name: str,
        *,
        sender: str,
        issue: int | None = None,
        comment: Comment | None = None,
        label: str | None = None,
        pull: int | None = None,
        review: Review | None = None,
        review_comment: ReviewComment | None = None,
        check_run: CheckRun | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Json:
        """The payload GitHub would send about the current state (nothing is sent or changed).
        `issue` and `pull` are numbers; see `payloads.payload_for` for the rest."""
        repo = self.repo(full_name)
        return await payload_for(
            self.state,
            self.urls,
            event,
            action,
            repo=repo,
            sender=self.state.user(sender),
            issue=(repo.issues.get(issue) or repo.pulls.get(issue)) if issue else None,
            comment=comment,
            label=label,
            pull=repo.pulls[pull] if pull is not None else None,
            review=review,
            review_comment=review_comment,
            check_run=check_run,
            extra=extra,
        )

    async def deliver(self, event: str, action: str, full_name: str, **objects: Any) -> Delivery:
        """Send one signed delivery about the current state (does not change the state); the
        arguments are those of `payload`."""
        return await self.send_event(event, await self.payload(event, action, full_name, **objects))

    async def send_event(self, event: str, payload: dict[str, Any]) -> Delivery:
        """Sign and deliver one payload to the webhook target, and keep it in `deliveries`."""
        if self.webhook is None:
            raise RuntimeError("call send_webhooks_to(url, secret) before delivering webhooks")
        delivery = await send(self.webhook, event, payload)
        self.deliveries.append(delivery)
        return delivery

    async def label_issue(self, full_name: str, number: int, label: str, *, by: str) -> Delivery:
        """`by` adds `label` to the issue, and GitHub delivers `issues` / `labeled`."""
        repo = self.repo(full_name)
        target = repo.issues.get(number) or repo.pulls[number]
        self.state.label(repo, label)
        if label not in target.labels:
            target.labels.append(label)
            target.updated_at = now_iso()  # GitHub's issue changes with it, as on REST
        return await self.deliver(
            "issues", "labeled", full_name, sender=by, issue=number, label=label
        )

    async def comment_on(self, full_name: str, number: int, body: str, *, by: str) -> Delivery:
        """`by` comments on the issue, and GitHub delivers `issue_comment` / `created`."""
        comment = self.add_comment(full_name, number, body, author=by)
        return await self.deliver(
            "issue_comment", "created", full_name, sender=by, issue=number, comment=comment
        )
