"""Every operation of the OpenAPI subset, called over HTTP on the simulator, answers with JSON
that validates against GitHub's own response schema for that status."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from bot.github.auth import app_jwt
from bot.testing.simulator import GitHubSimulator
from bot.testing.simulator.state import Installation, ReviewComment

SUBSET = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "github-openapi"
OPERATIONS: dict[str, Any] = json.loads((SUBSET / "subset.json").read_text())["operations"]


def normalised(schema: Any) -> Any:
    """The schema as GitHub's answers follow it, for a strict OAS 3.0 validator:
    - no `discriminator`: its mapping names `#/components/...`, which the subset resolved
      inline and dropped; the `oneOf` beside it still decides;
    - a `nullable` enum also allows null (GitHub sends `"conclusion": null` for a running
      check), which OAS 3.0.3 leaves unclear and the validator refuses."""
    if isinstance(schema, list):
        return [normalised(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {k: normalised(v) for k, v in schema.items() if k != "discriminator"}
    if result.get("nullable") and isinstance(result.get("enum"), list):
        result["enum"] = [*result["enum"], None]
    return result


def assert_documented(operation: str, status: int, data: Any) -> None:
    """`data` validates against GitHub's response schema for that operation and status."""
    schema = OPERATIONS[operation]["responses"][str(status)]["content"]["application/json"]
    validator = OAS30Validator(normalised(schema["schema"]), format_checker=oas30_format_checker)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    problems = [_describe(e) for e in errors[:10]]
    assert not problems, f"{operation}:\n" + "\n".join(problems)


class Caller:
    """Calls the simulator with real HTTP and checks each answer against its operation."""

    def __init__(self, github: GitHubSimulator, session: aiohttp.ClientSession, token: str):
        self.github = github
        self.session = session
        self.token = token
        self.checked: set[str] = set()

    async def __call__(
        self, operation: str, path: str, body: Any = None, *, expect: int | None = None
    ) -> Any:
        method = operation.split()[0]
        jwt_auth = operation.split()[1].startswith("/app")
        auth = (
            f"bearer {app_jwt(self.github.app_id, self.github.private_key_pem)}"
            if jwt_auth
            else f"token {self.token}"
        )
        headers = {"Authorization": auth, "Accept": "application/vnd.github+json"}
        async with self.session.request(
            method, self.github.api_url + path, json=body, headers=headers
        ) as response:
            data = await response.json()
            status = response.status
        responses = OPERATIONS[operation]["responses"]
        assert str(status) in responses, f"{operation} answered {status}: {data}"
        if expect is not None:
            assert status == expect
        assert_documented(operation, status, data)
        self.checked.add(operation)
        return data


@pytest.fixture
async def call(
    github: GitHubSimulator, installation: Installation
) -> Callable[..., Awaitable[Any]]:
    async with aiohttp.ClientSession() as session:
        yield Caller(github, session, github.mint_token(installation.id).token)


async def test_every_operation_answers_in_the_documented_shape(
    github: GitHubSimulator,
    installation: Installation,
    call: Caller,
    push_commit: Callable[[str, dict[str, str]], Awaitable[str]],
) -> None:
    repo = "/repos/octo/demo"
    token = await call(
        "POST /app/installations/{installation_id}/access_tokens",
        f"/app/installations/{installation.id}/access_tokens",
        {},
    )
    call.token = token["token"]
    await call("GET /app", "/app")
    await call("GET /rate_limit", "/rate_limit")
    await call("GET /repos/{owner}/{repo}", repo)
    permission = await call(
        "GET /repos/{owner}/{repo}/collaborators/{username}/permission",
        f"{repo}/collaborators/maintainer/permission",
    )
    assert (permission["permission"], permission["role_name"]) == ("write", "maintain")

    issue = await call("GET /repos/{owner}/{repo}/issues/{issue_number}", f"{repo}/issues/1")
    assert issue["title"] == "add() subtracts"
    comment = await call(
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
        f"{repo}/issues/1/comments",
        {"body": "Working on it"},
    )
    reactions = "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"
    path = f"{repo}/issues/comments/{comment['id']}/reactions"
    await call(reactions, path, {"content": "eyes"}, expect=201)
    await call(reactions, path, {"content": "eyes"}, expect=200)
    labels = await call(
        "POST /repos/{owner}/{repo}/issues/{issue_number}/labels",
        f"{repo}/issues/1/labels",
        {"labels": ["patchbot:needs-human"]},
    )
    assert [label["name"] for label in labels] == ["patchbot:needs-human"]
    remaining = await call(
        "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
        f"{repo}/issues/1/labels/patchbot:needs-human",
    )
    assert remaining == []

    contents = "GET /repos/{owner}/{repo}/contents/{path}"
    file = await call(contents, f"{repo}/contents/calc.py")
    assert file["type"] == "file" and file["encoding"] == "base64"
    listing = await call(contents, f"{repo}/contents/tests")
    assert [entry["path"] for entry in listing] == ["tests/test_calc.py"]

    main = await call("GET /repos/{owner}/{repo}/git/ref/{ref}", f"{repo}/git/ref/heads/main")
    await call(
        "POST /repos/{owner}/{repo}/git/refs",
        f"{repo}/git/refs",
        {"ref": "refs/heads/scratch", "sha": main["object"]["sha"]},
    )

    fixed = {"calc.py": "def add(a, b):\n    return a + b\n"}
    head = await push_commit("patchbot/issue-1-add", fixed)
    pull = await call(
        "POST /repos/{owner}/{repo}/pulls",
        f"{repo}/pulls",
        {"title": "Fix add()", "head": "patchbot/issue-1-add", "base": "main", "body": "Fixes #1"},
    )
    assert pull["head"]["sha"] == head
    assert (pull["additions"], pull["deletions"], pull["changed_files"]) == (1, 1, 1)
    number = pull["number"]
    await call("GET /repos/{owner}/{repo}/pulls/{pull_number}", f"{repo}/pulls/{number}")
    edited = await call(
        "PATCH /repos/{owner}/{repo}/pulls/{pull_number}",
        f"{repo}/pulls/{number}",
        {"body": "Fixes #1, with tests"},
    )
    assert edited["body"] == "Fixes #1, with tests"
    github.repo("octo/demo").pulls[number].review_comments.append(
        ReviewComment(github.state.new_id(), "Nice", "calc.py", github.state.user("alice"), head)
    )
    await call(
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/comments", f"{repo}/pulls/{number}/comments"
    )
    await call(
        "POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
        f"{repo}/pulls/{number}/requested_reviewers",
        {"reviewers": ["maintainer"]},
    )

    check = await call(
        "POST /repos/{owner}/{repo}/check-runs",
        f"{repo}/check-runs",
        {"name": "patchbot/verify", "head_sha": head, "status": "in_progress"},
    )
    assert check["pull_requests"][0]["number"] == number
    done = await call(
        "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
        f"{repo}/check-runs/{check['id']}",
        {"conclusion": "success", "output": {"title": "1 passed", "summary": "All tests pass"}},
    )
    assert (done["status"], done["conclusion"]) == ("completed", "success")
    await call(
        "POST /repos/{owner}/{repo}/statuses/{sha}",
        f"{repo}/statuses/{head}",
        {"state": "success", "context": "patchbot/verify"},
    )

    assert call.checked == set(OPERATIONS)


def _describe(error: Any) -> str:
    """The error, and for oneOf/anyOf the reason each alternative was refused."""
    why = "; ".join(f"{list(c.schema_path)}: {c.message[:120]}" for c in error.context or [])
    return f"{list(error.absolute_path)}: {error.message[:120]} {why}"
