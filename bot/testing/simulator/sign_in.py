"""People signing in to the app: GitHub's web application flow for a GitHub App's user
access tokens (docs.github.com, "Generating a user access token for a GitHub App").

The app sends a person to `GET /login/oauth/authorize?client_id&redirect_uri&state`; the person
signs in (here: types a login into a form) and GitHub redirects to `redirect_uri?code&state`;
the app trades the code, once and within ten minutes, at `POST /login/oauth/access_token` for
a `ghu_` token that acts as that person on `GET /user`, `GET /user/installations` and
`GET /user/installations/{id}/repositories`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.testing.simulator.state import Repo, User

CODE_LIFETIME = 600.0
"""Seconds a code can be traded (GitHub: ten minutes)."""
TOKEN_LIFETIME = 8 * 3600.0
"""Seconds a user access token lives (GitHub: eight hours, when tokens expire)."""


@dataclass
class Grant:
    login: str
    redirect_uri: str
    expires_at: float


@dataclass
class UserToken:
    token: str
    login: str
    expires_at: float


@dataclass
class SignIns:
    """The app's OAuth credentials, the codes handed out and the user tokens minted."""

    client_id: str = field(default_factory=lambda: "Iv1." + secrets.token_hex(8))
    client_secret: str = field(default_factory=lambda: secrets.token_hex(20))
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, UserToken] = field(default_factory=dict)

    def grant(self, login: str, redirect_uri: str) -> str:
        """A code for `login`, to be sent to `redirect_uri`."""
        code = secrets.token_hex(10)
        self.codes[code] = Grant(login, redirect_uri, time.time() + CODE_LIFETIME)
        return code

    def exchange(self, client_id: str, client_secret: str, code: str, redirect_uri: str) -> str:
        """The token for a code, or the `error` GitHub answers: the code is used up either way."""
        if client_id != self.client_id or not secrets.compare_digest(
            client_secret.encode(), self.client_secret.encode()
        ):
            return "incorrect_client_credentials"
        grant = self.codes.pop(code, None)
        if grant is None or grant.expires_at <= time.time():
            return "bad_verification_code"
        if redirect_uri and redirect_uri != grant.redirect_uri:
            return "redirect_uri_mismatch"
        token = UserToken("ghu_" + secrets.token_hex(18), grant.login, time.time() + TOKEN_LIFETIME)
        self.tokens[token.token] = token
        return token.token

    def user_token(self, value: str) -> UserToken | None:
        token = self.tokens.get(value)
        return token if token is not None and token.expires_at > time.time() else None


def can_read(user: User, repo: Repo) -> bool:
    """Whether the person may read the repository: public, theirs, or shared with them."""
    return not repo.private or repo.owner.login == user.login or user.login in repo.collaborators
