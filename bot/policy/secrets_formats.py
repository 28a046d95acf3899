"""Known credential formats, what makes a match a placeholder rather than a key, and how
random a string is: the scan (`secrets_scan`), its decoders of hidden forms (`secrets_hidden`)
and its check of named values (`secrets_named`) share them."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator

FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("private key", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
        ("GitHub token", r"\bgh[pousr]_[A-Za-z0-9]{36,}"),
        ("GitHub token", r"\bgithub_pat_[A-Za-z0-9_]{22,}"),
        ("AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
        (
            "AWS secret access key",
            r"(?i:aws_?secret_?(?:access_?)?key)\W{1,4}[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])",
        ),
        ("Slack token", r"\bxox[baprs]-[A-Za-z0-9-]{10,}"),
        ("Google API key", r"\bAIza[0-9A-Za-z_\-]{35}"),
        ("Stripe live key", r"\b[rs]k_live_[0-9A-Za-z]{20,}"),
        ("Anthropic API key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}"),
        ("OpenAI-style API key", r"\bsk-(?!ant-)(?:proj-)?[A-Za-z0-9_\-]{20,}"),
        ("JSON web token", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{10,}"),
    )
)
_ANY_FORMAT = re.compile(
    r"gh[pousr]_|github_pat_|AKIA|ASIA|(?i:aws_?secret)|xox[baprs]-|AIza|[rs]k_live_|sk-|eyJ"
    r"|PRIVATE KEY"
)
"""What every format starts with or holds: one quick search rules most text out."""

_PLACEHOLDER_WORDS = re.compile(
    r"(?i)example|fake|dummy|sample|placeholder|redacted|changeme|your|test|xxxx|0000|1234|abcd"
)
MIN_DISTINCT = 8
"""A key with fewer distinct characters than this is a placeholder (`ghp_xxxx...`)."""


def format_hits(text: str) -> Iterator[tuple[str, str, int]]:
    """(kind, value, start) of every known-format credential in `text`, placeholders included."""
    if not _ANY_FORMAT.search(text):
        return
    for kind, pattern in FORMATS:
        for match in pattern.finditer(text):
            yield kind, match.group(), match.start()


def looks_fake(value: str) -> bool:
    """A documentation example or a test placeholder: a word like EXAMPLE, FAKE or TEST in it
    (AWS's own `AKIAIOSFODNN7EXAMPLE`), or too few distinct characters to be random. A random
    key of these lengths holds such a word about once in a million."""
    return bool(_PLACEHOLDER_WORDS.search(value)) or len(set(value)) < MIN_DISTINCT


ENTROPY_RATIO = 0.8
"""Least entropy, as a share of the most a string of its length can have (log2 of the length,
up to 64): 99% of random base64 strings of 24-64 characters score above it."""


def shannon_entropy(text: str) -> float:
    """Bits per character of `text` under its own character frequencies."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def random_enough(value: str) -> bool:
    """At least ENTROPY_RATIO of the entropy a string of its length can have."""
    return shannon_entropy(value) >= ENTROPY_RATIO * math.log2(min(len(value), 64))
