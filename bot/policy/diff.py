"""Reading a unified git diff (`git diff --binary` output) into the files it changes."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

FileStatus = Literal["added", "modified", "deleted", "renamed", "copied"]

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


class DiffLine(BaseModel):
    number: int
    """Line number in the new file (added lines) or the old file (removed lines)."""
    text: str


class ChangedFile(BaseModel):
    """One file of a diff, with what was added and removed."""

    path: str
    """Path after the change (for a deleted file, the path it had)."""
    old_path: str | None = None
    """Path before a rename or copy."""
    status: FileStatus = "modified"
    added: int = 0
    """Lines added."""
    removed: int = 0
    """Lines removed."""
    binary: bool = False
    """A binary file: no lines to count or scan."""
    mode: str | None = None
    """The new file mode when the diff sets one (`120000` is a symbolic link)."""
    added_lines: list[DiffLine] = Field(default_factory=list, repr=False)
    removed_lines: list[DiffLine] = Field(default_factory=list, repr=False)

    @property
    def paths(self) -> list[str]:
        """Every path the change touches (both names of a rename)."""
        return [self.path] if self.old_path in (None, self.path) else [self.old_path, self.path]


def _unquote(text: str) -> str:
    """Undo git's C-style quoting of unusual paths (`"a/sp\\303\\251cial"`)."""
    if not (len(text) >= 2 and text[0] == '"' and text[-1] == '"'):
        return text
    out = bytearray()
    body, i = text[1:-1], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in "01234567":
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
                continue
            out.append(_ESCAPES.get(nxt, ord(nxt)))
            i += 2
            continue
        out.extend(char.encode())
        i += 1
    return out.decode("utf-8", errors="replace")


def _strip_prefix(path: str) -> str | None:
    path = _unquote(path.rstrip("\t"))
    if path == "/dev/null":
        return None
    return path[2:] if path[:2] in ("a/", "b/") else path


def _header_path(rest: str) -> str:
    """The path from `diff --git a/P b/P` when both sides are the same (no rename)."""
    if rest.startswith('"'):
        end = rest.index('"', 1)
        while rest[end - 1] == "\\":
            end = rest.index('"', end + 1)
        return _strip_prefix(rest[: end + 1]) or ""
    half = (len(rest) - 1) // 2
    return _strip_prefix(rest[:half]) or ""


def parse_diff(text: str) -> list[ChangedFile]:
    """The files of a unified git diff, in order. Hunks are read by their line counts, so an
    added line that itself starts with `++` or `--` is never taken for a header."""
    files: list[ChangedFile] = []
    lines = text.split("\n")
    current: ChangedFile | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("diff --git "):
            current = ChangedFile(path=_header_path(line[len("diff --git ") :]))
            files.append(current)
        elif current is None:
            pass
        elif line.startswith("new file mode "):
            current.status, current.mode = "added", line.split()[-1]
        elif line.startswith("deleted file mode "):
            current.status = "deleted"
        elif line.startswith("new mode "):
            current.mode = line.split()[-1]
        elif line.startswith("index ") and len(line.split()) == 3:
            current.mode = line.split()[-1]  # `index abc..def 120000`: mode unchanged
        elif line.startswith(("rename from ", "copy from ")):
            current.old_path = _unquote(line.split(" ", 2)[2])
            current.status = "renamed" if line.startswith("rename") else "copied"
        elif line.startswith(("rename to ", "copy to ")):
            current.path = _unquote(line.split(" ", 2)[2])
        elif line.startswith("--- "):
            old = _strip_prefix(line[4:])
            if old is not None and current.old_path is None and current.status != "added":
                current.path = old
        elif line.startswith("+++ "):
            new = _strip_prefix(line[4:])
            if new is not None:
                current.path = new
        elif line.startswith(("GIT binary patch", "Binary files ")):
            current.binary = True
        elif match := _HUNK.match(line):
            i = _read_hunk(current, lines, i + 1, match)
            continue
        i += 1
    return files


def _read_hunk(file: ChangedFile, lines: list[str], i: int, match: re.Match[str]) -> int:
    old_no, new_no = int(match.group(1)), int(match.group(3))
    old_left = int(match.group(2) or "1")
    new_left = int(match.group(4) or "1")
    while (old_left > 0 or new_left > 0) and i < len(lines):
        line = lines[i]
        i += 1
        tag, body = line[:1], line[1:]
        if tag == "+":
            file.added += 1
            file.added_lines.append(DiffLine(number=new_no, text=body))
            new_no, new_left = new_no + 1, new_left - 1
        elif tag == "-":
            file.removed += 1
            file.removed_lines.append(DiffLine(number=old_no, text=body))
            old_no, old_left = old_no + 1, old_left - 1
        elif tag == "\\":  # "\ No newline at end of file"
            continue
        else:  # context (an empty line is context whose own text was empty)
            old_no, new_no = old_no + 1, new_no + 1
            old_left, new_left = old_left - 1, new_left - 1
    while i < len(lines) and lines[i].startswith("\\"):
        i += 1
    return i
