"""The problem statement of a mined task: the commit message, with what would give the
solution away (the files the fix touches, the names it adds) hidden unless asked not to."""

from __future__ import annotations

import posixpath
import re

from bot.eval.tasks import diff_files

HIDDEN = "[hidden]"
_DEFINED = re.compile(
    r"^\+\s*(?:async\s+def|def|class)\s+([A-Za-z_]\w*)"
    r"|^\+\s*(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*)\s*(?::[^=]*)?=(?!=)",
    re.MULTILINE,
)
_WORD = re.compile(r"[A-Za-z_]\w*")
_MIN_NAME = 4
"""Shorter added names (`i`, `x`, `ok`) are common words, not a give-away."""


def added_names(patch: str) -> set[str]:
    """Names the patch defines (functions, classes, assignments) that its removed lines do
    not mention: what it adds to the code."""
    removed = {
        word
        for line in patch.splitlines()
        if line.startswith("-") and not line.startswith("---")
        for word in _WORD.findall(line)
    }
    found = {a or b for a, b in _DEFINED.findall(patch)}
    return {name for name in found if len(name) >= _MIN_NAME and name not in removed}


def revealing(patch: str) -> list[str]:
    """The words that would give the fix away, longest first (a path before its file name)."""
    words = set(added_names(patch))
    for path in diff_files(patch):
        name = posixpath.basename(path)
        stem = name.rsplit(".", 1)[0]
        words |= {path, name}
        if len(stem) >= _MIN_NAME and not stem.startswith("__"):
            words.add(stem)
    return sorted(words, key=lambda word: (-len(word), word))


def problem_statement(message: str, patch: str, *, mask: bool) -> str:
    """The commit message as an issue; with `mask`, every revealing word becomes `[hidden]`."""
    if not mask:
        return message
    for word in revealing(patch):
        message = re.sub(rf"(?<![\w/.]){re.escape(word)}(?![\w/])", HIDDEN, message)
    return message
