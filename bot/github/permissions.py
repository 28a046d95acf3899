"""A person's role on a repository, as GitHub's collaborator permission endpoint says it."""

from __future__ import annotations

from typing import Any

import gidgethub
from gidgethub.abc import GitHubAPI

from bot.settings import PERMISSION_ORDER

PERMISSION_URL = "/repos/{owner}/{repo}/collaborators/{username}/permission"


async def permission_of(gh: GitHubAPI, repository: str, login: str) -> str:
    """The user's role on the repository (`none` for a stranger)."""
    owner, repo = repository.split("/", 1)
    try:
        answer: dict[str, Any] = await gh.getitem(
            PERMISSION_URL, url_vars={"owner": owner, "repo": repo, "username": login}
        )
    except gidgethub.BadRequest as error:
        if error.status_code == 404:  # not a collaborator at all
            return "none"
        raise
    role = answer.get("role_name")
    if role in PERMISSION_ORDER:
        return str(role)
    return str(answer.get("permission", "none"))
