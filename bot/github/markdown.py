"""Untrusted text (from an issue, a repository, a test run or a model) in what Patchbot posts:
no mentions that ping, no HTML (so no hidden `<!-- patchbot: -->` marker), and code that
cannot close its own fence; and long text (a log in a comment or a check) cut to its ends."""

from __future__ import annotations

import re

_MENTION = re.compile(r"@(?=[A-Za-z0-9_])")
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _defused(text: str) -> str:
    return _MENTION.sub("@\u200b", text.translate(_HTML))


def _shortened(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


def plain(text: str, limit: int = 300) -> str:
    """One line of untrusted text, safe anywhere in Markdown (a table cell too)."""
    line = " ".join(_shortened(text, limit).split())
    return _defused(line).replace("|", "\\|")


def quote(text: str, limit: int = 2000) -> str:
    """Untrusted text as a block quote."""
    lines = _defused(_shortened(text, limit)).splitlines()
    return "\n".join(f"> {line}" if line else ">" for line in lines) or "> (none)"


def code(text: str, limit: int = 200) -> str:
    """Untrusted text as an inline code span that no backtick inside it can end early."""
    text = " ".join(_shortened(text, limit).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if longest else f"{fence}{text}{fence}"


def fenced(text: str, info: str = "", limit: int = 40_000) -> str:
    """Untrusted text as a fenced code block that no backtick run inside it can close."""
    if len(text) > limit:
        text = text[:limit] + f"\n... ({len(text) - limit} more characters not shown)\n"
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def cut_middle(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters, keeping its start and its end and marking the
    cut: a long log's first lines say what failed, its last ones sum it up."""
    text = text.strip()
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - limit} characters cut ...]\n{text[-half:]}"
