"""Credentials in a diff: known token formats and private keys on added and removed lines,
random-looking strings on added lines. A finding names the file, the line and the kind of
secret, never the secret itself."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel

from bot.policy.diff import ChangedFile, DiffLine
from bot.policy.globs import first_match

_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("private key", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
        ("GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,}"),
        ("GitHub token", r"\bgithub_pat_[A-Za-z0-9_]{22,}"),
        ("AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        (
            "AWS secret access key",
            r"(?i)aws_?secret_?(?:access_?)?key\W{1,4}[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",
        ),
        ("Slack token", r"\bxox[baprs]-[A-Za-z0-9-]{10,}"),
        ("Google API key", r"\bAIza[0-9A-Za-z_\-]{35}"),
        ("Stripe live key", r"\b[rs]k_live_[0-9A-Za-z]{20,}"),
        ("Anthropic API key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}"),
        ("OpenAI-style API key", r"\bsk-(?!ant-)(?:proj-)?[A-Za-z0-9_\-]{20,}"),
        ("JSON web token", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{10,}"),
    )
)

_CANDIDATE = re.compile(r"[A-Za-z0-9+/_\-]{20,}={0,2}")
_WORDS = re.compile(r"[A-Z]?[a-z]{3,}|[A-Z]{3,}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_SECRET_WORDS = re.compile(r"(?i)secret|passw|pwd|token|api_?key|apikey|auth|credential|private")
_HASH_WORDS = re.compile(
    r"(?i)\bsha\b|sha\d+|md5|hash|digest|checksum|integrity|\bcommit|revision|\bref\b"
)
# Files whose random-looking lines are hashes or data, not credentials.
_NO_ENTROPY = (
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
    found: list[SecretFinding] = []
    for file in files:
        entropy = high_entropy and first_match(file.path, _NO_ENTROPY) is None
        for line in file.added_lines:
            kind = _format_kind(line.text) or (_entropy_kind(line.text) if entropy else None)
            if kind:
                found.append(SecretFinding(path=file.path, line=line.number, kind=kind))
        found.extend(_removed(file, file.removed_lines))
    return found


def _removed(file: ChangedFile, lines: list[DiffLine]) -> list[SecretFinding]:
    out = []
    for line in lines:
        if kind := _format_kind(line.text):
            path = file.old_path or file.path
            out.append(SecretFinding(path=path, line=line.number, kind=kind, removed=True))
    return out


def _format_kind(text: str) -> str | None:
    return next((kind for kind, pattern in _FORMATS if pattern.search(text)), None)


def _entropy_kind(text: str) -> str | None:
    if len(text) > 2000:  # minified or generated data
        return None
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
                return "high-entropy hex string"
            continue
        if (
            len(token) >= BASE64_MIN_LENGTH
            and _mixed(token)
            and shannon_entropy(token) >= ENTROPY_RATIO * math.log2(min(len(token), 64))
            and _wordy(token) < WORDY_SHARE
        ):
            return "high-entropy string"
    return None


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
