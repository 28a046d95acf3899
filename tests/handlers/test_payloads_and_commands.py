"""Payload models parse every real payload of the events Patchbot reads; the command parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.github.commands import CommandName, parse_command
from bot.github.payloads import EVENT_MODELS


@pytest.mark.parametrize("event", sorted(EVENT_MODELS))
def test_every_real_payload_of_a_read_event_parses_with_its_model(
    event: str, real_fixtures: Path
) -> None:
    files = sorted((real_fixtures / "github-webhooks" / event).glob("*.json"))
    assert files, f"no real example of {event}"
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        model = EVENT_MODELS[event].model_validate(data)
        if "sender" in data:
            assert model.sender.login == data["sender"]["login"], path  # type: ignore[attr-defined]
        if "repository" in data and event.startswith("issue"):
            assert model.repository.full_name == data["repository"]["full_name"], path  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "name", "arguments"),
    [
        ("/patchbot fix", CommandName.FIX, ""),
        (
            "/patchbot fix use the new API\nand keep tests green",
            CommandName.FIX,
            "use the new API\nand keep tests green",
        ),
        ("Thanks!\n  /PATCHBOT Stop", CommandName.STOP, ""),
        ("/patchbot retry", CommandName.RETRY, ""),
        ("/patchbot help", CommandName.HELP, ""),
        ("/patchbot approve", CommandName.APPROVE, ""),
        ("/patchbot reject too risky", CommandName.REJECT, "too risky"),
    ],
)
def test_commands_are_recognised_at_the_start_of_a_line(
    body: str, name: CommandName, arguments: str
) -> None:
    command = parse_command(body)
    assert command is not None
    assert (command.name, command.arguments) == (name, arguments)


@pytest.mark.parametrize(
    "body",
    [
        "please /patchbot fix this",
        "> /patchbot fix",
        "```\n/patchbot fix\n```",
        "/patchbot frobnicate",
        "/patchbotfix",
        "/patchbot",
        "nothing to see",
    ],
)
def test_anything_else_is_ignored(body: str) -> None:
    assert parse_command(body) is None


def test_prefix_is_configurable() -> None:
    assert parse_command("/patchbot fix", prefix="/fixer") is None
    command = parse_command("/fixer fix now", prefix="/fixer")
    assert command is not None and command.name is CommandName.FIX
