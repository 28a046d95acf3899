"""Every REST operation the simulator serves, called over HTTP, answers with JSON that GitHub's
published schema accepts for that operation (githubkit's models, in every clone); where
`../shared/fixtures` is present, also with a status and JSON that the OpenAPI subset there
documents for its 21 operations."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from bot.github.auth import app_jwt
from bot.testing.simulator import GitHubSimulator, WebhookReceiver
from bot.testing.simulator.server import REST_ROUTES
from bot.testing.simulator.state import Installation
from tests.github.simulator_conformance import RESPONSES, assert_documented, refusals, route_key

REPO = "/repos/octo/demo"
SECRET = "webhook-secret-for-schema-tests"


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


class Caller:
    """Calls the simulator with real HTTP and checks each answer against GitHub's schema for
    its operation; with `subset` (the OpenAPI subset's operations), against that one too."""

    def __init__(
        self,
        github: GitHubSimulator,
        session: aiohttp.ClientSession,
        token: str,
        subset: dict[str, Any] | None,
    ) -> None:
        self.github = github
        self.session = session
        self.token = token
        self.subset = subset
        self.checked: set[str] = set()

    async def __call__(
        self, operation: str, path: str, body: Any = None, *, expect: int | None = None
    ) -> Any:
        method, template = operation.split(" ", 1)
        if template.startswith("/app"):
            auth = f"bearer {app_jwt(self.github.app_id, self.github.private_key_pem)}"
        else:
            auth = f"token {self.token}"
        headers = {"Authorization": auth, "Accept": "application/vnd.github+json"}
        async with self.session.request(
            method, self.github.api_url + path, json=body, headers=headers
        ) as response:
            data = await response.json()
            status = response.status
        assert status == (expect or status) and 200 <= status < 300, f"{operation}: {data}"
        assert_documented(operation, data)
        if self.subset is not None and operation in self.subset:
            self._assert_in_subset(operation, status, data)
        self.checked.add(operation)
        return data

    def _assert_in_subset(self, operation: str, status: int, data: Any) -> None:
        assert self.subset is not None
        responses = self.subset[operation]["responses"]
        assert str(status) in responses, f"{operation} answered {status}, not documented"
        schema = responses[str(status)]["content"]["application/json"]["schema"]
        validator = OAS30Validator(normalised(schema), format_checker=oas30_format_checker)
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
        problems = [_describe(e) for e in errors[:10]]
        assert not problems, f"{operation}:\n" + "\n".join(problems)


@pytest.fixture
async def hooks(github: GitHubSimulator) -> AsyncIterator[WebhookReceiver]:
    """Somewhere for the webhooks of the review and the check the scenario makes."""
    async with WebhookReceiver(SECRET) as receiver:
        github.send_webhooks_to(receiver.url, SECRET)
        yield receiver


async def scenario(
    github: GitHubSimulator, installation: Installation, subset: dict[str, Any] | None
) -> set[str]:
    """Patchbot's whole use of the REST API, each answer checked; the operations called."""
    async with aiohttp.ClientSession() as session:
        call = Caller(github, session, github.mint_token(installation.id).token, subset)
        await _app_and_repository(call, installation)
        await _issue(call)
        number, head = await _pull(call, github)
        await _review(call, github, number)
        await _checks(call, github, number, head)
        await _signed_in(call, github, installation)
    return call.checked


async def _signed_in(call: Caller, github: GitHubSimulator, installation: Installation) -> None:
    """What the dashboard asks with a person's user access token (the web flow's)."""
    sign_ins = github.state.sign_ins
    code = sign_ins.grant("maintainer", "http://127.0.0.1/ui/callback")
    call.token = sign_ins.exchange(sign_ins.client_id, sign_ins.client_secret, code, "")
    user = await call("GET /user", "/user")
    assert user["login"] == "maintainer"
    mine = await call("GET /user/installations", "/user/installations")
    assert [found["id"] for found in mine["installations"]] == [installation.id]
    repos = await call(
        "GET /user/installations/{installation_id}/repositories",
        f"/user/installations/{installation.id}/repositories",
    )
    assert [r["full_name"] for r in repos["repositories"]] == ["octo/demo"]


async def _app_and_repository(call: Caller, installation: Installation) -> None:
    token = await call(
        "POST /app/installations/{installation_id}/access_tokens",
        f"/app/installations/{installation.id}/access_tokens",
        {},
    )
    call.token = token["token"]
    await call("GET /app", "/app")
    await call("GET /rate_limit", "/rate_limit")
    listed = await call("GET /installation/repositories", "/installation/repositories")
    assert [r["full_name"] for r in listed["repositories"]] == ["octo/demo"]
    await call("GET /repos/{owner}/{repo}", REPO)
    permission = await call(
        "GET /repos/{owner}/{repo}/collaborators/{username}/permission",
        f"{REPO}/collaborators/maintainer/permission",
    )
    assert (permission["permission"], permission["role_name"]) == ("write", "maintain")
    contents = "GET /repos/{owner}/{repo}/contents/{path}"
    file = await call(contents, f"{REPO}/contents/calc.py")
    assert file["type"] == "file" and file["encoding"] == "base64"
    listing = await call(contents, f"{REPO}/contents/tests")
    assert [entry["path"] for entry in listing] == ["tests/test_calc.py"]
    main = await call("GET /repos/{owner}/{repo}/git/ref/{ref}", f"{REPO}/git/ref/heads/main")
    await call(
        "POST /repos/{owner}/{repo}/git/refs",
        f"{REPO}/git/refs",
        {"ref": "refs/heads/scratch", "sha": main["object"]["sha"]},
    )


async def _issue(call: Caller) -> None:
    issue = await call("GET /repos/{owner}/{repo}/issues/{issue_number}", f"{REPO}/issues/1")
    assert issue["title"] == "add() subtracts"
    comment = await call(
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
        f"{REPO}/issues/1/comments",
        {"body": "Working on it"},
    )
    one = f"{REPO}/issues/comments/{comment['id']}"
    await call("GET /repos/{owner}/{repo}/issues/comments/{comment_id}", one)
    await call("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", one, {"body": "Done"})
    reactions = "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions"
    await call(reactions, f"{one}/reactions", {"content": "eyes"}, expect=201)
    await call(reactions, f"{one}/reactions", {"content": "eyes"}, expect=200)
    listed = await call(
        "GET /repos/{owner}/{repo}/issues/{issue_number}/comments", f"{REPO}/issues/1/comments"
    )
    assert [(c["body"], c["reactions"]["eyes"]) for c in listed] == [("Done", 1)]
    labels = await call(
        "POST /repos/{owner}/{repo}/issues/{issue_number}/labels",
        f"{REPO}/issues/1/labels",
        {"labels": ["patchbot:needs-human"]},
    )
    assert [label["name"] for label in labels] == ["patchbot:needs-human"]
    remaining = await call(
        "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
        f"{REPO}/issues/1/labels/patchbot:needs-human",
    )
    assert remaining == []


async def _pull(call: Caller, github: GitHubSimulator) -> tuple[int, str]:
    """Patchbot's pull request, opened, read, edited and listed: its number and head."""
    fixed = {"calc.py": "def add(a, b):\n    return a + b\n"}
    head = await github.push_commit("octo/demo", "scratch", fixed, by="alice", message="Fix")
    pull = await call(
        "POST /repos/{owner}/{repo}/pulls",
        f"{REPO}/pulls",
        {"title": "Fix add()", "head": "scratch", "base": "main", "body": "Fixes #1"},
    )
    assert pull["head"]["sha"] == head
    assert (pull["additions"], pull["deletions"], pull["changed_files"]) == (1, 1, 1)
    number = pull["number"]
    await call("GET /repos/{owner}/{repo}/pulls/{pull_number}", f"{REPO}/pulls/{number}")
    edited = await call(
        "PATCH /repos/{owner}/{repo}/pulls/{pull_number}",
        f"{REPO}/pulls/{number}",
        {"body": "Fixes #1, with tests"},
    )
    assert edited["body"] == "Fixes #1, with tests"
    listed = await call("GET /repos/{owner}/{repo}/pulls", f"{REPO}/pulls?head=octo:scratch")
    assert [p["number"] for p in listed] == [number]
    await call(
        "POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
        f"{REPO}/pulls/{number}/requested_reviewers",
        {"reviewers": ["maintainer"]},
    )
    return number, head


async def _review(call: Caller, github: GitHubSimulator, number: int) -> None:
    review, _ = await github.review_pull(
        "octo/demo", number, by="maintainer", comments=[("calc.py", 2, "Why?")]
    )
    pull = f"{REPO}/pulls/{number}"
    [comment] = await call(
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/comments", f"{pull}/comments"
    )
    await call(
        "POST /repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies",
        f"{pull}/comments/{comment['id']}/replies",
        {"body": "Because add() must add."},
    )
    reviews = await call("GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews", f"{pull}/reviews")
    assert reviews[0]["state"] == "CHANGES_REQUESTED"
    await call(
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/comments",
        f"{pull}/reviews/{review.id}/comments",
    )


async def _checks(call: Caller, github: GitHubSimulator, number: int, head: str) -> None:
    check = await call(
        "POST /repos/{owner}/{repo}/check-runs",
        f"{REPO}/check-runs",
        {"name": "patchbot/verify", "head_sha": head, "status": "in_progress"},
    )
    assert check["pull_requests"][0]["number"] == number
    done = await call(
        "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
        f"{REPO}/check-runs/{check['id']}",
        {"conclusion": "success", "output": {"title": "1 passed", "summary": "All tests pass"}},
    )
    assert (done["status"], done["conclusion"]) == ("completed", "success")
    failure = {"path": "calc.py", "start_line": 2, "annotation_level": "failure", "message": "?"}
    other, _ = await github.complete_check(
        "octo/demo", head, name="ci / tests", summary="1 failed", annotations=[failure]
    )
    run = f"{REPO}/check-runs/{other.id}"
    await call("GET /repos/{owner}/{repo}/check-runs/{check_run_id}", run)
    await call(
        "GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations", f"{run}/annotations"
    )
    listed = await call(
        "GET /repos/{owner}/{repo}/commits/{ref}/check-runs", f"{REPO}/commits/{head}/check-runs"
    )
    assert listed["total_count"] == 2
    await call(
        "POST /repos/{owner}/{repo}/statuses/{sha}",
        f"{REPO}/statuses/{head}",
        {"state": "success", "context": "patchbot/verify"},
    )


async def test_every_operation_answers_as_githubs_schema_says(
    github: GitHubSimulator, installation: Installation, hooks: WebhookReceiver
) -> None:
    assert await scenario(github, installation, subset=None) == set(RESPONSES)


async def test_every_operation_answers_as_githubs_openapi_description_says(
    github: GitHubSimulator,
    installation: Installation,
    hooks: WebhookReceiver,
    real_fixtures: Path,
) -> None:
    description = real_fixtures / "github-openapi" / "subset.json"
    subset = json.loads(description.read_text(encoding="utf-8"))["operations"]
    assert set(subset) <= await scenario(github, installation, subset)


async def test_an_answer_missing_a_required_field_or_with_a_wrong_type_is_refused(
    github: GitHubSimulator, installation: Installation
) -> None:
    """The check has teeth: the repository's answer loses a required field, nested or not, or
    gets a string for its numeric id, and GitHub's schema refuses each."""
    headers = {"Authorization": f"token {github.mint_token(installation.id).token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(github.api_url + REPO, headers=headers) as response,
    ):
        answer = await response.json()
    model = RESPONSES["GET /repos/{owner}/{repo}"]
    assert refusals(model, answer) == []
    without = {k: v for k, v in answer.items() if k != "full_name"}
    owner = {**answer, "owner": {k: v for k, v in answer["owner"].items() if k != "login"}}
    retyped = {**answer, "id": str(answer["id"])}
    assert refusals(model, without) == ["full_name: Field required"]
    assert refusals(model, owner) == ["owner.login: Field required"]
    assert refusals(model, retyped) == ["id: Input should be a valid integer"]


def test_every_route_that_answers_json_has_its_schema() -> None:
    """A route added to the simulator without GitHub's model for its answer fails here."""
    served = {
        route_key(f"{route.method} {route.path}")
        for routes in REST_ROUTES
        for route in routes
        if isinstance(route, web.RouteDef)
    }
    no_json = {"DELETE /repos/{}/{}/issues/comments/{}"}  # 204, no content
    assert served - no_json == {route_key(operation) for operation in RESPONSES}


def _describe(error: Any) -> str:
    """The error, and for oneOf/anyOf the reason each alternative was refused."""
    why = "; ".join(f"{list(c.schema_path)}: {c.message[:120]}" for c in error.context or [])
    return f"{list(error.absolute_path)}: {error.message[:120]} {why}"
