"""Path globs as policies use them: `*` and `?` within a folder, `**` across folders, a glob
without `/` matching the file name in any folder, case ignored (a stricter match is safer)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=1024)
def compile_glob(glob: str) -> re.Pattern[str]:
    """The regular expression a repository-relative path must match whole."""
    anchored = "/" in glob.rstrip("/")
    body = glob.strip("/")
    if glob.endswith("/"):  # `docs/` means everything below docs
        body += "/**"
    out: list[str] = [] if anchored else ["(?:.*/)?"]
    i = 0
    while i < len(body):
        char = body[i]
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[" and (end := body.find("]", i + 2)) != -1:
            inner = body[i + 1 : end]
            negate = inner.startswith("!")
            inner = re.escape(inner[1:] if negate else inner).replace(r"\-", "-")
            out.append(f"[{'^' if negate else ''}{inner}]")
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def matches(path: str, glob: str) -> bool:
    return compile_glob(glob).fullmatch(path.lstrip("/")) is not None


def first_match(path: str, globs: Iterable[str]) -> str | None:
    """The first glob `path` matches, or None."""
    return next((glob for glob in globs if matches(path, glob)), None)
