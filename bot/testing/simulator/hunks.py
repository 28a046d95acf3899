"""The `diff_hunk` and `position` GitHub gives a review comment, from the pull request's diff."""

from __future__ import annotations

import re
from pathlib import Path

from bot.testing.simulator.gitrepo import git

_HEADER = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def hunk_for_line(file_diff: str, line: int) -> tuple[str, int]:
    """(diff_hunk, position) of a comment on new-file `line`: the hunk's header and its lines
    down to that line, and how many lines that line is below the file's first `@@` header.

    A line outside every hunk gets the file's first hunk whole (GitHub would refuse it)."""
    hunks: list[tuple[int, list[str]]] = []  # (position of the header, lines)
    position = -1
    for text in file_diff.splitlines():
        if text.startswith("@@"):
            hunks.append((position + 1, [text]))
        elif not hunks:
            continue  # the `diff --git`, `index`, `---` and `+++` lines
        else:
            hunks[-1][1].append(text)
        if hunks:
            position += 1
    if not hunks:
        raise ValueError("the pull request does not change this file: GitHub refuses the comment")
    for start, lines in hunks:
        match = _HEADER.match(lines[0])
        new_line = int(match.group(1)) - 1 if match else 0
        for offset, text in enumerate(lines[1:], start=1):
            if text.startswith(("-", "\\")):  # a removed line, "\ No newline at end of file"
                continue
            new_line += 1
            if new_line == line:
                return "\n".join(lines[: offset + 1]), start + offset
    start, lines = hunks[0]
    return "\n".join(lines), start + len(lines) - 1


async def hunk_in_pull(bare: Path, base: str, head: str, path: str, line: int) -> tuple[str, int]:
    """`hunk_for_line` for `path` in the diff of `head` over its merge base with `base`."""
    diff = await git(bare, "diff", f"{base}...{head}", "--", path)
    try:
        return hunk_for_line(diff.decode(errors="replace"), line)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e
