"""The run's pull request and its `patchbot/verify` check run, found before they are made."""

from __future__ import annotations

from typing import Any

import gidgethub
from gidgethub.abc import GitHubAPI

from bot.github.markers import CHECK_NAME


async def _open_pull(gh: GitHubAPI, repository: str, owner: str, branch: str) -> Any:
    url = f"/repos/{repository}/pulls?state=open&head={owner}:{branch}"
    async for pull in gh.getiter(url):
        return pull
    return None


async def open_or_update_pull(
    gh: GitHubAPI,
    repository: str,
    *,
    branch: str,
    base: str,
    title: str,
    body: str,
    draft: bool,
) -> dict[str, Any]:
    """The open pull request from `branch`, its title and body brought up to date, or a new one."""
    owner = repository.split("/")[0]
    pull = await _open_pull(gh, repository, owner, branch)
    if pull is None:
        data = {"title": title, "body": body, "head": branch, "base": base, "draft": draft}
        try:
            created: dict[str, Any] = await gh.post(f"/repos/{repository}/pulls", data=data)
            return created
        except gidgethub.BadRequest as error:
            # 422: another attempt of this run opened it meanwhile; use that one.
            if error.status_code != 422:
                raise
            pull = await _open_pull(gh, repository, owner, branch)
            if pull is None:
                raise
    url = f"/repos/{repository}/pulls/{pull['number']}"
    updated: dict[str, Any] = await gh.patch(url, data={"title": title, "body": body})
    return updated


async def report_check(
    gh: GitHubAPI, repository: str, head_sha: str, *, title: str, summary: str, success: bool
) -> dict[str, Any]:
    """A completed `patchbot/verify` check run on `head_sha`, made once per commit."""
    data = {
        "name": CHECK_NAME,
        "head_sha": head_sha,
        "status": "completed",
        "conclusion": "success" if success else "failure",
        "output": {"title": title, "summary": summary},
    }
    url = f"/repos/{repository}/commits/{head_sha}/check-runs?check_name={CHECK_NAME}"
    existing = await gh.getitem(url)
    for run in existing.get("check_runs", []):
        if run.get("name") == CHECK_NAME:
            check_url = f"/repos/{repository}/check-runs/{run['id']}"
            updated: dict[str, Any] = await gh.patch(check_url, data=data)
            return updated
    created: dict[str, Any] = await gh.post(f"/repos/{repository}/check-runs", data=data)
    return created
