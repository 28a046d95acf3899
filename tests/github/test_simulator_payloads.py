"""Every webhook the simulator sends is what GitHub's published schema says that event is,
strictly, and reads with Patchbot's own payload models; where `../shared/fixtures` is present,
it has the keys and types of GitHub's real example of the same event and action."""

from __future__ import annotations

import asyncio
import copy
import json
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from bot.github.payloads import EVENT_MODELS
from bot.testing.simulator import GitHubSimulator, WebhookReceiver
from tests.github.simulator_conformance import (
    assert_webhook_conforms,
    refusals,
    webhook_model,
)

SECRET = "webhook-secret-for-payload-tests"
REPO = "octo/demo"
FIXED = "def add(a, b):\n    return a + b\n"
SENT = {
    ("installation", "created"),
    ("installation", "suspend"),
    ("installation", "unsuspend"),
    ("installation", "deleted"),
    ("installation_repositories", "added"),
    ("installation_repositories", "removed"),
    ("issues", "opened"),
    ("issues", "labeled"),
    ("issue_comment", "created"),
    ("pull_request", "opened"),
    ("pull_request", "synchronize"),
    ("pull_request", "closed"),
    ("pull_request_review", "submitted"),
    ("pull_request_review_comment", "created"),
    ("check_run", "completed"),
    ("check_suite", "completed"),
}
"""Every event and action the simulator sends."""
SITUATIONAL = {"organization", "enterprise", "requester", "changes"}
"""Top-level keys GitHub sends only in some situations the simulator does not make: a
repository of an organization or an enterprise, an installation someone requested, an issue
transferred from elsewhere."""
DESCRIBED_ELSEWHERE = {"archived_at", "archived_by"}
"""Label fields that GitHub's schema requires in REST answers and `issues` events but leaves
out of the labels other events carry: GitHub has one label object, so the simulator sends them
in every event."""
OUTDATED = {".installation.created_at", ".installation.updated_at"}
"""Where the real examples (recorded in 2019) differ from GitHub's schema and GitHub today:
epoch seconds there, ISO 8601 times now."""

Payloads = list[tuple[str, dict[str, Any]]]


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory, app_private_key: str) -> Payloads:
    """The payloads of one story that makes the simulator send every event and action it can:
    installing, an issue opened, labelled and discussed, a pull request opened, reviewed,
    pushed to, checked by another app and merged, then uninstalling."""
    root = tmp_path_factory.mktemp("story")
    return asyncio.run(_story(GitHubSimulator(root, private_key_pem=app_private_key)))


async def _story(github: GitHubSimulator) -> Payloads:
    async with github, WebhookReceiver(SECRET) as hooks:
        github.send_webhooks_to(hooks.url, SECRET)
        github.add_repo(REPO, files={"calc.py": "def add(a, b):\n    return a - b\n"})
        github.add_repo("octo/docs")
        installation = github.add_installation("octo", [REPO]).id
        await github.announce_installation(installation)
        await github.change_installation_repositories(installation, add=["octo/docs"], by="octo")
        await github.change_installation_repositories(installation, remove=["octo/docs"], by="octo")
        await github.suspend_installation(installation, by="octo")
        await github.suspend_installation(installation, by="octo", suspended=False)
        number = github.add_issue(REPO, "add() subtracts", author="alice").number
        await github.deliver("issues", "opened", REPO, sender="alice", issue=number)
        await github.label_issue(REPO, number, "patchbot", by="maintainer")
        await github.comment_on(REPO, number, "/patchbot fix", by="maintainer")
        pull, _ = await github.open_pull(
            REPO, "fix-add", {"calc.py": FIXED}, by="alice", title="Fix add()", body="Fixes #1"
        )
        await github.label_issue(REPO, pull.number, "bug", by="maintainer")
        await github.review_pull(REPO, pull.number, by="maintainer", comments=[("calc.py", 2, "?")])
        head = await github.push_commit(
            REPO, "fix-add", {"NOTES.md": "x\n"}, by="alice", message="Notes"
        )
        annotation = {
            "path": "calc.py",
            "start_line": 2,
            "annotation_level": "failure",
            "message": "add(1, 2) == 3 failed",
        }
        await github.complete_check(
            REPO, head, name="ci / tests", summary="1 failed", annotations=[annotation]
        )
        main = await github.branch_sha(REPO, "main")
        assert main is not None
        await github.complete_check(
            REPO, main, name="ci / tests", summary="ok", conclusion="success"
        )
        await github.close_pull(REPO, pull.number, by="maintainer", merge=True)
        await github.uninstall(installation, by="octo")
        return [(event.event, event.data) for event in hooks.events]


def test_the_story_sends_every_event_and_action(sent: Payloads) -> None:
    assert {(event, payload["action"]) for event, payload in sent} == SENT


def test_every_payload_conforms_to_githubs_webhook_schema(sent: Payloads) -> None:
    for event, payload in sent:
        assert_webhook_conforms(event, payload)


def test_every_payload_reads_with_patchbots_own_models(sent: Payloads) -> None:
    for event, payload in sent:
        parsed = EVENT_MODELS[event].model_validate(payload)
        assert parsed.sender.login == payload["sender"]["login"]  # type: ignore[attr-defined]


def test_a_missing_required_field_or_a_wrong_type_is_refused(sent: Payloads) -> None:
    """The check has teeth: every payload loses each required top-level field in turn, and a
    nested one, or gets a string for its sender's numeric id; the schema refuses each."""
    for event, payload in sent:
        model = webhook_model(event, payload["action"])
        required = [name for name, field in model.model_fields.items() if field.is_required()]
        assert required, (event, payload["action"])
        for name in required:
            without = {k: v for k, v in payload.items() if k != name}
            assert any(p.startswith(name) for p in refusals(model, without)), (event, name)
        nested = copy.deepcopy(payload)
        del nested["sender"]["login"]
        assert "sender.login: Field required" in refusals(model, nested), event
        retyped = copy.deepcopy(payload)
        retyped["sender"]["id"] = str(retyped["sender"]["id"])
        assert "sender.id: Input should be a valid integer" in refusals(model, retyped), event


def test_payloads_have_the_keys_and_types_of_githubs_real_examples(
    sent: Payloads, real_fixtures: Path
) -> None:
    problems = []
    for event, payload in sent:
        action = payload["action"]
        examples = sorted((real_fixtures / "github-webhooks" / event).glob(f"{action}.*json"))
        assert examples, f"no real example of {event}/{action}"
        models = _models(webhook_model(event, action))
        for example in examples:
            real = json.loads(example.read_text(encoding="utf-8"))
            found = differences(payload, real, models)
            problems += [f"{event}/{example.name} {problem}" for problem in found]
    assert not problems, "\n".join(sorted(set(problems)))


def differences(ours: Any, real: Any, models: list[type[BaseModel]], path: str = "") -> list[str]:
    """Where `ours` differs from GitHub's real example: a key GitHub sends that we lack, a key
    we send that neither the example nor GitHub's schema (`models`) has, a different JSON type
    (null matches anything: the field may be empty on either side)."""
    if isinstance(ours, dict) and isinstance(real, dict):
        if path.endswith(".permissions"):  # the app's permissions: its keys are data
            return []
        lacking = real.keys() - ours.keys() - (SITUATIONAL if not path else set())
        described = {f.alias or n for model in models for n, f in model.model_fields.items()}
        invented = ours.keys() - real.keys() - described - DESCRIBED_ELSEWHERE
        found = [f"{path}.{key}: GitHub sends it, the simulator does not" for key in lacking]
        found += [f"{path}.{key}: neither GitHub's example nor schema has it" for key in invented]
        for key in ours.keys() & real.keys():
            inner = [m for model in models for m in _field_models(model, key)]
            found += differences(ours[key], real[key], inner, f"{path}.{key}")
        return found
    if isinstance(ours, list) and isinstance(real, list):
        return differences(ours[0], real[0], models, f"{path}[0]") if ours and real else []
    if None in (ours, real) or _json_type(ours) == _json_type(real) or path in OUTDATED:
        return []
    return [f"{path}: a {_json_type(ours)}, GitHub's example has a {_json_type(real)}"]


def _json_type(value: Any) -> str:
    kinds = {bool: "boolean", int: "number", float: "number", str: "string"}
    return kinds.get(type(value), "object" if isinstance(value, dict) else "array")


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's annotation can hold (through Union, list, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models(arg)]


def _field_models(model: type[BaseModel], key: str) -> list[type[BaseModel]]:
    """The models of `model`'s field that JSON calls `key`."""
    fields = [f for n, f in model.model_fields.items() if (f.alias or n) == key]
    return [m for field in fields for m in _models(field.annotation)]
