"""Credentials in a diff: known token formats and private keys on added and removed lines,
also split into pieces, encoded or reversed (`secrets_hidden`); random-looking strings, and
secret-like values given a credential's name (`password = ...`, a URL's password), on added
lines. Placeholders (`AKIAIOSFODNN7EXAMPLE`, `ghp_xxxx...`) and values the diff only moves (on a
removed line too: the repository had them already) do not count. A finding names the file,
the line and the kind of secret, never the secret itself."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import PurePosixPath

from pydantic import BaseModel

from bot.policy.diff import ChangedFile
from bot.policy.globs import first_match
from bot.policy.secrets_formats import format_hits, looks_fake, random_enough, shannon_entropy
from bot.policy.secrets_hidden import hidden_hits
from bot.policy.secrets_named import CODE_SUFFIXES, named_hits

_CANDIDATE = re.compile(r"[A-Za-z0-9+/_\-]{20,}={0,2}")
_WORDS = re.compile(r"[A-Z]?[a-z]{3,}|[A-Z]{3,}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_SECRET_WORDS = re.compile(r"(?i)secret|passw|pwd|token|api_?key|apikey|auth|credential|private")
_HASH_WORDS = re.compile(
    r"(?i)\bsha\b|sha\d+|md5|hash|digest|checksum|integrity|\bcommit|revision|\bref\b"
)
# Files whose random-looking lines are hashes or data, not credentials: only known formats
# count there, as written.
_DATA = (
    "*.lock", "package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "go.sum",
    "*.svg", "*.min.js", "*.min.css", "*.map", "*.snap",
)  # fmt: skip
BASE64_MIN_LENGTH = 24
WORDY_SHARE = 0.65
"""A string this much made of words (`Camel`, `lower`, `UPPER` runs of 3+) is an identifier."""
HEX_MIN_LENGTH = 32
HEX_MIN_ENTROPY = 3.0
"""Hex strings count only next to a word like `secret`, `token` or `password`: most are hashes."""


class SecretFinding(BaseModel):
    """Where something looking like a credential is, without the value."""

    path: str
    line: int
    kind: str
    removed: bool = False
    """On a removed line: the secret is in history already; someone should rotate it."""

    def __str__(self) -> str:
        side = "removed line" if self.removed else "line"
        return f"{self.path} {side} {self.line}: {self.kind}"


def scan_files(files: Iterable[ChangedFile], *, high_entropy: bool = True) -> list[SecretFinding]:
    """Every finding in the parsed diff, in file and line order."""
    files = list(files)
    removed = "\n".join(line.text for file in files for line in file.removed_lines)
    added = "\n".join(line.text for file in files for line in file.added_lines)
    found: list[SecretFinding] = []
    for file in files:
        found += _added(file, removed, high_entropy)
        found += _removed(file, added)
    return found


def _added(file: ChangedFile, removed: str, high_entropy: bool) -> list[SecretFinding]:
    """One finding per added line, the surest kind: a known format as written, then hidden
    (`secrets_hidden`), then random-looking (unless the file holds data, like a lock file)."""
    data = first_match(file.path, _DATA) is not None
    bare = PurePosixPath(file.path).suffix.lower() not in CODE_SUFFIXES
    hidden: dict[int, list[tuple[str, str]]] = {}
    for number, how, value in () if data else hidden_hits(file.added_lines):
        hidden.setdefault(number, []).append((how, value))
    found = []
    for line in file.added_lines:
        hits = chain(
            ((kind, value) for kind, value, _ in format_hits(line.text)),
            hidden.get(line.number, ()),
            _random_hits(line.text, bare) if high_entropy and not data else (),
        )
        if kind := next((kind for kind, value in hits if _new(value, removed)), None):
            found.append(SecretFinding(path=file.path, line=line.number, kind=kind))
    return found


def _new(value: str, removed: str) -> bool:
    """Not a placeholder, and not moved: a value also on a removed line was there before."""
    return not looks_fake(value) and value not in removed


def _random_hits(text: str, bare: bool) -> Iterator[tuple[str, str]]:
    """Random-looking strings, and secret-like values given a credential's name."""
    yield from _entropy_hits(text)
    yield from named_hits(text, bare=bare)


def _removed(file: ChangedFile, added: str) -> list[SecretFinding]:
    out = []
    for line in file.removed_lines:
        hits = format_hits(line.text)
        if kind := next((kind for kind, value, _ in hits if _new(value, added)), None):
            path = file.old_path or file.path
            out.append(SecretFinding(path=path, line=line.number, kind=kind, removed=True))
    return out


def _entropy_hits(text: str) -> Iterator[tuple[str, str]]:
    if len(text) > 2000:  # minified or generated data
        return
    for match in _CANDIDATE.finditer(text):
        token = match.group().rstrip("=")
        before = text[max(0, match.start() - 40) : match.start()]
        if _UUID.search(token) or _HASH_WORDS.search(before) or _looks_like_path(token):
            continue
        if _HEX.fullmatch(token):
            if (
                len(token) >= HEX_MIN_LENGTH
                and shannon_entropy(token) >= HEX_MIN_ENTROPY
                and _SECRET_WORDS.search(before)
            ):
                yield "high-entropy hex string", token
            continue
        if (
            len(token) >= BASE64_MIN_LENGTH
            and _mixed(token)
            and random_enough(token)
            and _wordy(token) < WORDY_SHARE
        ):
            yield "high-entropy string", token


def _mixed(token: str) -> bool:
    """Upper and lower case letters and digits: random keys have all three, words rarely."""
    return (
        any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and any(c.isdigit() for c in token)
    )


def _wordy(token: str) -> float:
    return sum(len(word) for word in _WORDS.findall(token)) / len(token)


def _looks_like_path(token: str) -> bool:
    """A path, URL or snake_case name: several separators, or only words between them."""
    if token.count("/") >= 3 or token.count("_") >= 3:
        return True
    parts = [p for p in re.split(r"[/_\-]", token) if p]
    return len(parts) >= 3 and all(p.isalpha() or p.isdigit() for p in parts)
