"""Credentials hidden from a line-by-line scan: split into string pieces (joined with `+`, side
by side, across lines, through variables or a `join`), escaped (`\\x67`, `\\u0067`), written as
character codes, encoded (base64, hex, percent-encoding, ROT13) or reversed. Each form is
decoded and checked against the known formats (`secrets_formats`) only: decoded text is
never judged by its randomness, which keeps hashes and data from counting."""

from __future__ import annotations

import base64
import binascii
import bisect
import codecs
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote

from bot.policy.diff import DiffLine
from bot.policy.secrets_formats import format_hits

_LITERAL = re.compile(r"""(?P<q>["'`])(?P<body>(?:\\.|(?!(?P=q))[^\\\n])*)(?P=q)""")
_BARE = re.compile(r"[A-Za-z0-9+/_%\-]{16,}={0,2}")
_ESCAPE = re.compile(
    r"\\(?:x([0-9a-fA-F]{2})|u\{([0-9a-fA-F]{1,6})\}|u([0-9a-fA-F]{4})|([0-7]{1,3})|(.))"
)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_CODES = re.compile(
    r"(?<![\w.])(?:(?:\d{2,3}|0x[0-9a-fA-F]{2})\s*,\s*){9,}(?:\d{2,3}|0x[0-9a-fA-F]{2})(?![\w.])"
)
_GLUE = re.compile(
    r"[\s+,;()\[\]{}.]*"
    r"(?:(?:[A-Za-z_$][\w$]*\s+){0,3}[A-Za-z_$][\w$]*\s*(?::?=|=>|:)\s*|\.?[A-Za-z_]\w*\()?"
    r"[\s+,;()\[\]{}]*"
)
_KEY_AFTER = re.compile(r"\s*(?::(?!:)|=(?!=))")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}){10,}")
_INVISIBLY = "with invisible characters"
MIN_ENCODED = 20
"""Shorter text cannot hide a credential: the shortest format is 20 characters long."""
MAX_PIECES = 8
"""String pieces joined at most into one candidate."""
MAX_SPAN_LINES = 10
"""Lines one split credential may spread over."""
MAX_JOINED = 400
"""Characters of joined pieces looked at."""
MAX_LINE = 10_000
"""Longer lines (minified or generated data) are not taken apart."""


@dataclass(frozen=True)
class Piece:
    """A string literal (or a bare token) on an added line, its escapes decoded."""

    line: int
    """Its line number in the new file."""
    text: str
    before: str
    """What comes before it since the previous piece: on its line, or a whole line."""
    literal: bool = True
    """A quoted string that is a value, not a key (only those are joined)."""
    hidden: str = ""
    """How its text differs from what the line shows: `escaped`, `with invisible characters`."""


def _unescape(body: str) -> str:
    def one(match: re.Match[str]) -> str:
        hex2, braced, hex4, octal, other = match.groups()
        if hex2 or braced or hex4:
            return chr(min(int(hex2 or braced or hex4, 16), 0x10FFFF))
        if octal:
            return chr(int(octal, 8))
        return _SIMPLE_ESCAPES.get(other, other)

    return _ESCAPE.sub(one, body).translate(_INVISIBLE)


def pieces(lines: list[DiffLine]) -> list[Piece]:
    """The string literals of the added lines, in order, escapes decoded and invisible
    characters dropped; a line without literals gives its long bare tokens instead."""
    found, before = [], ""
    for line in lines:
        if len(line.text) > MAX_LINE:
            before = ""
            continue
        literals = list(_LITERAL.finditer(line.text))
        end = 0
        for match in literals:
            before += line.text[end : match.start()]
            end = match.end()
            body = match.group("body")
            if text := _unescape(body):
                how = "" if text == body else "escaped" if "\\" in body else _INVISIBLY
                value = not _KEY_AFTER.match(line.text, end)  # `"name": ...` names a value
                found.append(Piece(line.number, text, before, value, how))
                before = ""
        if not literals:
            found += [Piece(line.number, _unescape(t), "", False) for t in _BARE.findall(line.text)]
        before += line.text[end:] + "\n"
    return found


def _printable(data: bytes) -> str | None:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() or text.strip().isprintable() else None


def _base64(text: str) -> str | None:
    stripped = text.strip()
    if not _BASE64.fullmatch(stripped) or len(stripped.rstrip("=")) % 4 == 1:
        return None
    padded = stripped.rstrip("=") + "=" * (-len(stripped.rstrip("=")) % 4)
    try:
        return _printable(base64.b64decode(padded, altchars=b"-_", validate=False))
    except (binascii.Error, ValueError):
        return None


def _hex(text: str) -> str | None:
    return _printable(bytes.fromhex(text)) if _HEX.fullmatch(text) else None


def _percent(text: str) -> str | None:
    return unquote(text) if text.count("%") >= 4 else None


def _rot13(text: str) -> str | None:
    return codecs.encode(text, "rot13")


def _reversed(text: str) -> str | None:
    return text[::-1]


DECODINGS: tuple[tuple[str, Callable[[str], str | None]], ...] = (
    ("base64-encoded", _base64),
    ("hex-encoded", _hex),
    ("percent-encoded", _percent),
    ("ROT13", _rot13),
    ("reversed", _reversed),
)
JOINED_DECODINGS = DECODINGS[:3]
"""Pieces joined are decoded only from these: each first checks its alphabet."""


def _decoded_hits(
    text: str, decodings: tuple[tuple[str, Callable[[str], str | None]], ...] = DECODINGS
) -> Iterator[tuple[str, str]]:
    if len(text) < MIN_ENCODED:
        return
    for how, decode in decodings:
        decoded = decode(text)
        if decoded:
            for kind, value, _ in format_hits(decoded):
                yield f"{kind} ({how})", value


def hidden_hits(lines: list[DiffLine]) -> Iterator[tuple[int, str, str]]:
    """(line, kind, value) of every known-format credential hidden in the added lines."""
    found = pieces(lines)
    for start, first in enumerate(found):
        yield from ((first.line, kind, value) for kind, value in _decoded_hits(first.text))
        if first.hidden:
            for kind, value, _ in format_hits(first.text):
                yield first.line, f"{kind} ({first.hidden})", value
        if not first.literal:
            continue
        joined = first.text
        for end in range(start + 1, min(start + MAX_PIECES, len(found))):
            piece = found[end]
            too_far = piece.line - first.line > MAX_SPAN_LINES or len(joined) > MAX_JOINED
            if too_far or not piece.literal or not _GLUE.fullmatch(piece.before):
                break
            joined += piece.text
            for kind, value, at in format_hits(joined):
                if at == 0 and len(value) > len(first.text):  # starts this piece, goes on
                    yield first.line, f"{kind} (split into pieces)", value
            decoded = _decoded_hits(joined, JOINED_DECODINGS)
            yield from ((first.line, kind, value) for kind, value in decoded)
    yield from _character_codes([line for line in lines if len(line.text) <= MAX_LINE])


def _character_codes(lines: list[DiffLine]) -> Iterator[tuple[int, str, str]]:
    """Lists of character codes (`[103, 104, 112, ...]`, `0x67, 0x68, ...`), across lines."""
    text = "\n".join(line.text for line in lines)
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line.text) + 1)
    for match in _CODES.finditer(text):
        codes = [int(code, 0) for code in re.split(r"\s*,\s*", match.group())]
        if all(32 <= code < 127 for code in codes):
            index = bisect.bisect_right(starts, match.start()) - 1
            for kind, value, _ in format_hits("".join(map(chr, codes))):
                yield lines[index].number, f"{kind} (character codes)", value
