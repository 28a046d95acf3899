"""GitHub's published schema, as the simulator's tests hold it to it: githubkit's models,
generated from GitHub's OpenAPI description (webhooks and REST API version 2022-11-28, the one
Patchbot's requests get), validated strictly, so a missing required field or a wrong type is
refused. They come with the dev extras, so every clone has them."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from githubkit_schemas.v2022_11_28 import models
from pydantic import BaseModel, TypeAdapter, ValidationError

RESPONSES: dict[str, Any] = {
    "GET /app": models.Integration,
    "POST /app/installations/{installation_id}/access_tokens": models.InstallationToken,
    "GET /installation/repositories": models.InstallationRepositoriesGetResponse200,
    "GET /rate_limit": models.RateLimitOverview,
    "GET /user": models.PrivateUser | models.PublicUser,
    "GET /user/installations": models.UserInstallationsGetResponse200,
    "GET /user/installations/{installation_id}/repositories": (
        models.UserInstallationsInstallationIdRepositoriesGetResponse200
    ),
    "GET /repos/{owner}/{repo}": models.FullRepository,
    "GET /repos/{owner}/{repo}/collaborators/{username}/permission": (
        models.RepositoryCollaboratorPermission
    ),
    "GET /repos/{owner}/{repo}/contents/{path}": (
        list[models.ContentDirectoryItems]
        | models.ContentFile
        | models.ContentSymlink
        | models.ContentSubmodule
    ),
    "GET /repos/{owner}/{repo}/git/ref/{ref}": models.GitRef,
    "POST /repos/{owner}/{repo}/git/refs": models.GitRef,
    "GET /repos/{owner}/{repo}/issues/{issue_number}": models.Issue,
    "GET /repos/{owner}/{repo}/issues/{issue_number}/comments": list[models.IssueComment],
    "POST /repos/{owner}/{repo}/issues/{issue_number}/comments": models.IssueComment,
    "GET /repos/{owner}/{repo}/issues/comments/{comment_id}": models.IssueComment,
    "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}": models.IssueComment,
    "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions": models.Reaction,
    "POST /repos/{owner}/{repo}/issues/{issue_number}/labels": list[models.Label],
    "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}": list[models.Label],
    "GET /repos/{owner}/{repo}/pulls": list[models.PullRequestSimple],
    "POST /repos/{owner}/{repo}/pulls": models.PullRequest,
    "GET /repos/{owner}/{repo}/pulls/{pull_number}": models.PullRequest,
    "PATCH /repos/{owner}/{repo}/pulls/{pull_number}": models.PullRequest,
    "POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers": (
        models.PullRequestSimple
    ),
    "GET /repos/{owner}/{repo}/pulls/{pull_number}/comments": (
        list[models.PullRequestReviewComment]
    ),
    "POST /repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies": (
        models.PullRequestReviewComment
    ),
    "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews": list[models.PullRequestReview],
    "GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/comments": (
        list[models.ReviewComment]
    ),
    "POST /repos/{owner}/{repo}/check-runs": models.CheckRun,
    "GET /repos/{owner}/{repo}/check-runs/{check_run_id}": models.CheckRun,
    "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}": models.CheckRun,
    "GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations": (
        list[models.CheckAnnotation]
    ),
    "GET /repos/{owner}/{repo}/commits/{ref}/check-runs": (
        models.ReposOwnerRepoCommitsRefCheckRunsGetResponse200
    ),
    "POST /repos/{owner}/{repo}/statuses/{sha}": models.Status,
}
"""The model of the successful answer of each operation the simulator serves with JSON, as
githubkit's REST client declares it (`response_model`)."""


def route_key(operation: str) -> str:
    """`METHOD /path` with its parameters unnamed, to match the simulator's routes."""
    return re.sub(r"\{[^}]*\}", "{}", operation)


def refusals(model: Any, data: Any) -> list[str]:
    """Why GitHub's schema refuses `data` as JSON of `model` (strict: no type coercion), as
    `path: reason` lines; empty when it conforms."""
    try:
        TypeAdapter(model).validate_json(json.dumps(data), strict=True)
    except ValidationError as error:
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
    return []


def assert_documented(operation: str, data: Any) -> None:
    """`data` is what GitHub's schema says a successful answer of `operation` is."""
    problems = refusals(RESPONSES[operation], data)
    assert not problems, f"{operation}:\n" + "\n".join(problems[:10])


def webhook_model(event: str, action: str) -> type[BaseModel]:
    """GitHub's model of the `event` webhook with this `action`, e.g. `WebhookIssuesLabeled`
    (loaded alone: importing every event's models takes seconds)."""
    name = "Webhook" + "".join(word.capitalize() for word in f"{event}_{action}".split("_"))
    model: type[BaseModel] = getattr(models, name)
    assert model.model_fields["action"].annotation == Literal[action], name
    return model


def assert_webhook_conforms(event: str, payload: dict[str, Any]) -> None:
    """The payload is what GitHub's schema says an `event` delivery with its action is."""
    problems = refusals(webhook_model(event, payload["action"]), payload)
    assert not problems, f"{event}/{payload['action']}:\n" + "\n".join(problems[:10])
