"""Slash commands in comments: `/patchbot fix [instructions]`, `retry`, `stop`, `help`, ...
On Patchbot's own pull requests: `/patchbot revise [instructions]` and `/patchbot update`.

A command is a line that starts with the prefix (case-insensitive, leading spaces allowed).
Text inside fenced code blocks and quoted lines (`> ...`) never counts, so quoting someone
else's command does not repeat it. Anything that is not a known command is ignored.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel


class CommandName(StrEnum):
    FIX = "fix"
    RETRY = "retry"
    STOP = "stop"
    HELP = "help"
    APPROVE = "approve"
    REJECT = "reject"
    REVISE = "revise"
    UPDATE = "update"


class Command(BaseModel):
    name: CommandName
    arguments: str = ""
    """The rest of the line, and for `fix` and `revise` the lines that follow it (extra
    instructions)."""


def parse_command(body: str, prefix: str = "/patchbot") -> Command | None:
    """The first command in a comment, or None when it holds none."""
    pattern = re.compile(rf"^[ \t]*{re.escape(prefix)}[ \t]+(\w+)\b[ \t]*(.*)$", re.IGNORECASE)
    lines = body.replace("\r\n", "\n").split("\n")
    in_fence = False
    for index, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        match = pattern.match(line)
        if match is None:
            continue
        try:
            name = CommandName(match.group(1).lower())
        except ValueError:
            continue
        arguments = match.group(2).strip()
        if name in (CommandName.FIX, CommandName.REVISE):
            following = "\n".join(lines[index + 1 :]).strip()
            arguments = "\n".join(part for part in (arguments, following) if part)
        return Command(name=name, arguments=arguments)
    return None
