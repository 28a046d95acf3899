"""Acting as a person who signed in with GitHub through the App (the web application flow):
trade the code GitHub sent back for a user access token, then ask who the person is and which
of the App's repositories they can read. The token is used for these calls and dropped."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.errors import PatchbotError

PER_PAGE = 100
MAX_PAGES = 50
"""Pages read of one listing: 5,000 installations or repositories, then the rest is cut."""


class SignInFailed(PatchbotError, RuntimeError):
    """GitHub refused the sign-in (a used or expired code, wrong client credentials) or did
    not answer; the message says which, never a token."""


def authorize_url(web_url: str, client_id: str, redirect_uri: str, state: str) -> str:
    """Where to send a person's browser to sign in and authorize the App."""
    query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri, "state": state})
    return f"{web_url}/login/oauth/authorize?{query}"


class UserAccess:
    """The calls of one sign-in, on one HTTP session."""

    def __init__(self, session: aiohttp.ClientSession, web_url: str, api_url: str) -> None:
        self._session = session
        self._web_url = web_url
        self._api_url = api_url

    async def token_for(
        self, code: str, client_id: str, client_secret: str, redirect_uri: str
    ) -> str:
        """The user access token for `code` (usable once, for ten minutes)."""
        form = {
            "client_id": client_id,
            "client_secret": client_secret,
            "code": code,
            "redirect_uri": redirect_uri,
        }
        url = f"{self._web_url}/login/oauth/access_token"
        answer = await self._json("POST", url, data=form, headers={"Accept": "application/json"})
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            why = answer.get("error") if isinstance(answer, dict) else None
            raise SignInFailed(f"GitHub did not give a token for the code ({why or 'no reason'})")
        return token

    async def login(self, token: str) -> str:
        """The login of the person the token acts for."""
        user = await self._json("GET", f"{self._api_url}/user", headers=_auth(token))
        login = user.get("login") if isinstance(user, dict) else None
        if not isinstance(login, str):
            raise SignInFailed("GitHub's GET /user gave no login")
        return login

    async def readable_repositories(self, token: str) -> tuple[str, ...]:
        """Full names of the repositories, among those the App is installed on, that the
        person can read (`GET /user/installations`, then each one's repositories)."""
        names: set[str] = set()
        installations = await self._all(
            f"{self._api_url}/user/installations", "installations", token
        )
        for installation in installations:
            url = f"{self._api_url}/user/installations/{int(installation['id'])}/repositories"
            for repo in await self._all(url, "repositories", token):
                names.add(str(repo["full_name"]))
        return tuple(sorted(names))

    async def _all(self, url: str, key: str, token: str) -> list[dict[str, Any]]:
        """Every item of a paged listing (`Link: rel="next"`), up to `MAX_PAGES` pages."""
        items: list[dict[str, Any]] = []
        next_url: str | None = f"{url}?per_page={PER_PAGE}"
        for _ in range(MAX_PAGES):
            if next_url is None:
                break
            page, next_url = await self._page("GET", next_url, headers=_auth(token))
            found = page.get(key) if isinstance(page, dict) else None
            items.extend(item for item in found or [] if isinstance(item, dict))
        return items

    async def _json(self, method: str, url: str, **options: Any) -> Any:
        return (await self._page(method, url, **options))[0]

    async def _page(self, method: str, url: str, **options: Any) -> tuple[Any, str | None]:
        """The JSON answer and the URL of the next page, if any."""
        try:
            async with self._session.request(method, url, **options) as response:
                link = response.links.get("next")
                return await _checked(response, url), str(link["url"]) if link else None
        except aiohttp.ClientError as error:
            raise SignInFailed(f"GitHub did not answer {method} {url}: {error}") from error


async def _checked(response: aiohttp.ClientResponse, url: str) -> Any:
    if response.status >= 400:
        raise SignInFailed(f"GitHub answered {response.status} to {url}")
    try:
        return await response.json(content_type=None)
    except ValueError as error:
        raise SignInFailed(f"GitHub's answer to {url} is not JSON") from error


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}
