"""Untrusted text (from an issue, a repository, a test run or a model) in what Patchbot posts:
no mentions that ping, no HTML (so no hidden `<!-- patchbot: -->` marker), no image and no
link syntax (an image is a beacon that calls out when a reviewer opens the page), no URL
linked unless its host is allowed (`linking`), and code that cannot close its own fence; and
long text (a log in a comment or a check) cut to its ends. This module is the one sanitiser
for untrusted text Patchbot posts to GitHub."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from urllib.parse import urlsplit

_MENTION = re.compile(r"@(?=[A-Za-z0-9_])")
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# A link or an image needs `](`, `][` or (for a reference definition) `]:`; a character
# reference is never link syntax, and a backslash before it cannot undo it.
_LINK_BRACKET = re.compile(r"\](?=[(\[:])")
# What GitHub turns into a link on its own: `http(s)://`, `ftp://` and `www.` (GFM's extended
# autolinks). Brackets, parentheses, quotes and backticks end a match.
_URL = re.compile(r"(?i)(?:(?:https?|ftp)://|www\.)[^\s<>\[\]()\"'`\\]+")
_AUTOLINK_START = re.compile(r"(?i)(?=://)|(?<=www)(?=\.)")
_HOST = re.compile(r"[a-z0-9.-]+")

_LINKED_HOSTS: ContextVar[tuple[str, ...]] = ContextVar("linked_hosts", default=())


@contextlib.contextmanager
def linking(hosts: Iterable[str]) -> Iterator[None]:
    """Within the block, URLs in untrusted text stay links when their host is one of `hosts` or
    a subdomain of one; every other URL is shown, not linked. Outside any block no URL is
    linked."""
    allowed = tuple(host.strip().strip(".").lower() for host in hosts if host.strip())
    token = _LINKED_HOSTS.set(allowed)
    try:
        yield
    finally:
        _LINKED_HOSTS.reset(token)


def link_allowed(url: str) -> bool:
    """Whether `url` may stay a link: an http(s) URL, no user name or password in it, whose
    host is allowed in the current `linking` block."""
    try:
        parts = urlsplit(url if "://" in url else f"https://{url}")
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or "@" in parts.netloc:
        return False
    if not _HOST.fullmatch(host):
        return False
    return any(host == allowed or host.endswith(f".{allowed}") for allowed in _LINKED_HOSTS.get())


def _escaped(text: str) -> str:
    text = _LINK_BRACKET.sub("&#93;", text.translate(_HTML))
    return _MENTION.sub("@\u200b", text)


def _defused(text: str) -> str:
    """Escaped text; a URL to a host that is not allowed gets a zero-width space after its
    scheme (or `www`), so GitHub shows it without linking it."""
    out, last = [], 0
    for match in _URL.finditer(text):
        url = match.group()
        out.append(_escaped(text[last : match.start()]))
        out.append(url if link_allowed(url) else _escaped(_AUTOLINK_START.sub("\u200b", url)))
        last = match.end()
    out.append(_escaped(text[last:]))
    return "".join(out)


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
