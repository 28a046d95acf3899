"""Credentials in a diff: known token formats and private keys on added and removed lines,
also split into pieces, encoded or reversed (`secrets_hidden`); random-looking strings, and
secret-like values given a credential's name (`password = ...`, a URL's password), on added
lines. Placeholders (`AKIAIOSFODNN7EXAMPLE`, `ghp_xxxx...`) and values the diff only moves (on a
removed line too: the repository had them already) do not count. A finding names the file,
the line and the kind of secret, never the secret itself."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from urllib.parse import unquote

from pydantic import BaseModel

from bot.policy.diff import ChangedFile
from bot.policy.globs import first_match
from bot.policy.secrets_formats import format_hits, looks_fake
from bot.policy.secrets_hidden import hidden_hits

_NAME = (
    r"(?:passw(?:or)?d|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|credential|auth)"
)
_NAMED = re.compile(
    rf"(?i)(?P<name>[\w.-]*{_NAME}[\w.-]*)[\"']?\s*(?::=|=>|[:=])(?!=)\s*(?P<rest>.*)"
)
_QUOTED = re.compile(r"""(?P<q>["'`])(?P<body>[^"'`\s]*)(?P=q)""")
_BARE_VALUE = re.compile(r"""([^\s"'`,;()\[\]{}<>]+)\s*(?:#.*)?$""")
_URL_PASSWORD = re.compile(
    r"(?i)\b[a-z][a-z0-9+.-]*://[^\s:/@\"'<>]+:(?P<password>[^\s@/\"'<>]+)@[\w.-]+"
)
_REFERENCE = re.compile(r"\$\{|\{\{|\$\(|%\(|^\$|^<|://|^\.?/|\.\w+\(|/.*/")
"""A variable, template, call or path rather than a value."""
_WEAK = re.compile(r"password|passwd|secret|changeme|letmein|qwerty|admin|hunter|s3cr3t")
_LEET = str.maketrans("@0134$5!", "aoieassi")
_CAMEL_WORD = re.compile(r"[A-Z][a-z]{2,}")
"""`DefaultKey2` is words, not a value."""
NAMED_MIN_LENGTH = 10
"""Characters a value given a credential's name needs to count."""
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
ENTROPY_RATIO = 0.8
"""Least entropy, as a share of the most a string of its length can have (log2 of the length,
up to 64): 99% of random base64 strings of 24-64 characters score above it."""
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


def shannon_entropy(text: str) -> float:
    """Bits per character of `text` under its own character frequencies."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def scan_files(files: Iterable[ChangedFile], *, high_entropy: bool = True) -> list[SecretFinding]:
    """Every finding in the parsed diff, in file and line order."""
    files = list(files)
    removed = "\n".join(line.text for file in files for line in file.removed_lines)
    added = "\n".join(line.text for file in files for line in file.added_lines)
    found: list[SecretFinding] = []
    for file in files:
        data = first_match(file.path, _DATA) is not None
        checks_randomness = high_entropy and not data
        hidden: dict[int, str] = {}
        for number, how, value in hidden_hits(file.added_lines) if not data else ():
            if _new(value, removed):
                hidden.setdefault(number, how)
        for line in file.added_lines:
            kind = (
                _first_new(((k, v) for k, v, _ in format_hits(line.text)), removed)
                or hidden.get(line.number)
                or (_first_new(_random_hits(line.text), removed) if checks_randomness else None)
            )
            if kind:
                found.append(SecretFinding(path=file.path, line=line.number, kind=kind))
        found.extend(_removed(file, added))
    return found


def _new(value: str, removed: str) -> bool:
    """Not a placeholder, and not moved: a value also on a removed line was there before."""
    return not looks_fake(value) and value not in removed


def _first_new(hits: Iterable[tuple[str, str]], removed: str) -> str | None:
    return next((kind for kind, value in hits if _new(value, removed)), None)


def _random_hits(text: str) -> Iterator[tuple[str, str]]:
    """Random-looking strings, and secret-like values given a credential's name."""
    yield from _entropy_hits(text)
    yield from named_hits(text)


def _removed(file: ChangedFile, added: str) -> list[SecretFinding]:
    out = []
    for line in file.removed_lines:
        if kind := _first_new(((k, v) for k, v, _ in format_hits(line.text)), added):
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


def random_enough(value: str) -> bool:
    """At least ENTROPY_RATIO of the entropy a string of its length can have."""
    return shannon_entropy(value) >= ENTROPY_RATIO * math.log2(min(len(value), 64))


def named_hits(text: str) -> Iterator[tuple[str, str]]:
    """A secret-like value given a credential's name: `password = "..."`, `api_key: ...`,
    `"token": "..."` (string pieces on the line joined), or the password of a URL."""
    for match in _NAMED.finditer(text):
        rest = match.group("rest")
        literals = [m.group("body") for m in _QUOTED.finditer(rest)]
        if rest[:1] in "\"'`" and literals:
            value = "".join(literals)
        else:
            bare = _BARE_VALUE.match(rest)
            value = bare.group(1) if bare else ""
        if _secret_like(value):
            yield f"secret-like value of `{match.group('name')[:40]}`", value
    for match in _URL_PASSWORD.finditer(text):
        if _secret_like(match.group("password"), min_length=8):
            yield "password in a URL", match.group("password")


def _secret_like(value: str, min_length: int = NAMED_MIN_LENGTH) -> bool:
    """Random enough, of several kinds of characters, and not words (`fg=yellow;options=bold`,
    an e-mail address, `DefaultKey2`), a path, a reference or a well-known password
    (`P@ssw0rd`, `changeme`: test fixtures)."""
    if len(value) < min_length or _REFERENCE.search(value) or looks_fake(value):
        return False
    parts = [part for part in re.split(r"[^A-Za-z0-9]+", value) if part]
    if all(part.isalpha() or part.isdigit() for part in parts):  # names, words, an e-mail
        return False
    camel = sum(len(word) for word in _CAMEL_WORD.findall(value))
    letters = re.sub(r"[^a-z]", "", unquote(value).lower().translate(_LEET))
    if camel >= len(value) / 2 or _WEAK.search(letters):
        return False
    classes = sum(
        any(test(c) for c in value)
        for test in (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum())
    )
    return random_enough(value) and (classes >= 3 or (classes == 2 and len(value) >= 20))


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
