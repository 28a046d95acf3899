"""Secret-like values given a credential's name (`password = "..."`, `api_key: ...`,
`"client_secret": "..."`) and the password in a URL. The name must end in a credential word
(`db_password`, `API_KEY`, `auth_token2`; not `TOKEN_PREFIX`, `max_tokens` or `author`). In
code only quoted values count, a bare one being a variable; in configuration files (YAML,
`.env`, INI, ...) bare values count too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote

from bot.policy.secrets_formats import looks_fake, random_enough

_NAME_END = re.compile(
    r"(?i)(?:passw(?:or)?d|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|credentials?|auth)\d*(?=[\"']?\s*(?::=|=>|=(?!=)|:(?!:)))"
)
_NAME_CHARS = re.compile(r"[\w.-]*$")
_ASSIGNED = re.compile(r"[\"']?\s*(?::=|=>|=|:)\s*")
_QUOTED = re.compile(r"""[bruf]?(?P<q>["'`])(?P<body>[^"'`\s]*)(?P=q)""")
_BARE_VALUE = re.compile(r"""([^\s"'`,;()\[\]{}<>]+)\s*(?:#.*)?$""")
_URL_PASSWORD = re.compile(
    r"(?i)\b[a-z][a-z0-9+.-]*://[^\s:/@\"'<>]+:(?P<password>[^\s@/\"'<>]+)@[\w.-]+"
)
_REFERENCE = re.compile(r"\$\{|\{\{|\$\(|%\(|^\$|^<|://|^\.?/|\.\w+\(|/.*/|\\")
"""A variable, template, call, path or escaped text rather than a value."""
_WEAK = re.compile(r"password|passwd|secret|changeme|letmein|qwerty|admin|hunter")
_LEET = str.maketrans("@0134$5!", "aoieassi")
_WORD_PART = re.compile(r"(?:[A-Z]?[a-z]{2,}|[A-Z]{2,})\d{0,2}|\d+")
_CAMEL_WORD = re.compile(r"[A-Z][a-z]{2,}")
MIN_LENGTH = 12
"""Characters a value given a credential's name needs to count."""
URL_PASSWORD_MIN_LENGTH = 8
CODE_SUFFIXES = frozenset(
    {
        ".py", ".pyi", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".go", ".rb", ".java",
        ".kt", ".scala", ".rs", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".php", ".swift",
        ".m", ".pl", ".lua", ".sh", ".bash", ".zsh", ".ps1", ".r", ".dart", ".ex", ".exs",
        ".clj", ".groovy",
    }
)  # fmt: skip
"""Files where a bare value after a credential's name is a variable, not a value."""


def named_hits(text: str, *, bare: bool) -> Iterator[tuple[str, str]]:
    """(kind, value) of secret-like values given a credential's name on one line, string
    pieces joined; `bare`: unquoted values count too (a configuration file)."""
    for match in _NAME_END.finditer(text):
        name = _NAME_CHARS.search(text, 0, match.start())
        start = name.start() if name else match.start()
        rest = text[_ASSIGNED.match(text, match.end()).end() :]  # type: ignore[union-attr]
        literals = [m.group("body") for m in _QUOTED.finditer(rest)]
        if literals and _QUOTED.match(rest):
            value = "".join(literals)
        else:
            found = _BARE_VALUE.match(rest) if bare else None
            value = found.group(1) if found else ""
        if secret_like(value):
            yield f"secret-like value of `{text[start : match.end()][-40:]}`", value
    for match in _URL_PASSWORD.finditer(text):
        if secret_like(match.group("password"), URL_PASSWORD_MIN_LENGTH):
            yield "password in a URL", match.group("password")


def secret_like(value: str, min_length: int = MIN_LENGTH) -> bool:
    """Random enough, of several kinds of characters, and not words (`fg=yellow;options=bold`,
    an e-mail address, `m2m-client-credentials`, `DefaultKey2`), a path, a reference or a
    well-known password (`P@ssw0rd`, `changeme`: test fixtures)."""
    if len(value) < min_length or _REFERENCE.search(value) or looks_fake(value):
        return False
    parts = [part for part in re.split(r"[^A-Za-z0-9]+", value) if part]
    words = sum(1 for part in parts if _WORD_PART.fullmatch(part))
    if words == len(parts) or (words >= 2 and 2 * words >= len(parts)):
        return False  # a name, words, an e-mail address
    camel = sum(len(word) for word in _CAMEL_WORD.findall(value))
    letters = re.sub(r"[^a-z]", "", unquote(value).lower().translate(_LEET))
    if camel >= len(value) / 2 or _WEAK.search(letters):
        return False
    classes = sum(
        any(test(c) for c in value)
        for test in (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum())
    )
    return random_enough(value) and (classes >= 3 or (classes == 2 and len(value) >= 20))
