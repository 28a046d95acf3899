"""The `str_replace_editor` tool: view, create and edit files inside the sandbox's /workspace.

Files travel as base64 through `sandbox.exec`, in chunks that stay under the kernel's limit on
one argument and the sandbox's cap on output. Edit history stays on the host, for `undo_edit`.
"""

from __future__ import annotations

import base64
import posixpath
import shlex
from typing import Literal, TypeVar

from pydantic import BaseModel

from bot.sandbox.protocol import Sandbox
from bot.setup.paths import WORKSPACE

READ_CHUNK = 36_000
"""Bytes read per command: 48 kB of base64, under the sandbox's smallest output cap."""
WRITE_CHUNK = 60_000
"""Base64 characters written per command, well under the 128 kB limit on one argument."""
MAX_FILE = 2_000_000
"""Largest file in bytes the editor opens; bigger ones are for bash."""
SNIPPET_CONTEXT = 4
"""Lines shown before and after an edit."""

T = TypeVar("T")


class EditorError(Exception):
    """An editor command that cannot be done; the message goes back to the model."""


class EditorArgs(BaseModel):
    command: Literal["view", "create", "str_replace", "insert", "undo_edit"]
    path: str
    file_text: str | None = None
    old_str: str | None = None
    new_str: str | None = None
    insert_line: int | None = None
    view_range: list[int] | None = None


def confine(path: str) -> str:
    """The absolute, normalized form of `path`, which must lie inside /workspace."""
    if not path:
        raise EditorError("path is empty; give a path inside /workspace")
    full = posixpath.normpath(posixpath.join(WORKSPACE, path))
    if full != WORKSPACE and not full.startswith(WORKSPACE + "/"):
        raise EditorError(f"{path} is outside /workspace; the editor only works inside it")
    return full


def numbered(text: str, start: int = 1) -> str:
    return "\n".join(f"{n:6}\t{line}" for n, line in enumerate(text.split("\n"), start))


class Editor:
    """Runs editor commands against one sandbox and remembers each file's previous contents."""

    def __init__(self, sandbox: Sandbox, timeout: float = 60.0) -> None:
        self.sandbox = sandbox
        self.timeout = timeout
        self.history: dict[str, list[str | None]] = {}

    async def run(self, args: EditorArgs) -> str:
        path = confine(args.path)
        if args.command == "view":
            return await self.view(path, args.view_range)
        if args.command == "create":
            return await self.create(path, _required(args.file_text, "file_text", "create"))
        if args.command == "str_replace":
            old = _required(args.old_str, "old_str", "str_replace")
            return await self.str_replace(path, old, args.new_str or "")
        if args.command == "insert":
            line = _required(args.insert_line, "insert_line", "insert")
            return await self.insert(path, line, _required(args.new_str, "new_str", "insert"))
        return await self.undo(path)

    async def view(self, path: str, view_range: list[int] | None) -> str:
        kind, size, head = await self._open(path)
        if kind == "dir":
            if view_range:
                raise EditorError("view_range only applies to files, and this is a directory")
            quoted = shlex.quote(path)
            listing = await self._sh(
                f"find {quoted} -maxdepth 2 -not -path '*/.*' -not -path '*/__pycache__*' "
                "| sort | head -n 400"
            )
            return f"Files and directories up to 2 levels deep in {path}:\n{listing}"
        text = (await self._read(path, kind, size, head)).removesuffix("\n")
        lines = text.split("\n")
        if not view_range:
            return numbered(text)
        if len(view_range) != 2:
            raise EditorError("view_range must be [start, end]; end -1 means to the last line")
        start, end = view_range
        end = len(lines) if end == -1 else end
        if not 1 <= start <= len(lines) or end < start or end > len(lines):
            raise EditorError(
                f"view_range {view_range} is outside the file's {len(lines)} lines (1-based)"
            )
        return numbered("\n".join(lines[start - 1 : end]), start)

    async def create(self, path: str, text: str) -> str:
        kind, _, _ = await self._open(path)
        if kind != "missing":
            raise EditorError(
                f"{path} already exists; use str_replace to edit it (create is for new files)"
            )
        await self._write(path, text)
        self.history.setdefault(path, []).append(None)
        return f"File created: {path}"

    async def str_replace(self, path: str, old: str, new: str) -> str:
        text = await self._read(path, *await self._open(path))
        count = text.count(old)
        if count == 0:
            raise EditorError(f"old_str was not found in {path}; no change made (match exactly)")
        if count > 1:
            starts = [
                n + 1 for n, line in enumerate(text.split("\n")) if old.split("\n")[0] in line
            ]
            raise EditorError(
                f"old_str occurs {count} times in {path} (lines {starts[:10]}); include more "
                "context so it is unique. No change made."
            )
        at = text.index(old)
        edited = text[:at] + new + text[at + len(old) :]
        await self._save(path, text, edited)
        first = text[:at].count("\n") + 1
        return self._snippet(path, edited, first, first + new.count("\n"))

    async def insert(self, path: str, after: int, new: str) -> str:
        text = await self._read(path, *await self._open(path))
        lines = text.split("\n")
        count = len(lines) - 1 if text.endswith("\n") else len(lines)
        if not 0 <= after <= count:
            raise EditorError(f"insert_line {after} is outside 0..{count} for {path}")
        added = new.split("\n")
        edited = "\n".join(lines[:after] + added + lines[after:])
        await self._save(path, text, edited)
        return self._snippet(path, edited, after + 1, after + len(added))

    async def undo(self, path: str) -> str:
        previous = self.history.get(path)
        if not previous:
            raise EditorError(f"no edit of {path} to undo")
        text = previous.pop()
        if text is None:
            await self._sh(f"rm -f -- {shlex.quote(path)}")
            return f"Undid the creation of {path}; it is gone."
        await self._write(path, text)
        return f"Last edit of {path} undone.\n{numbered(text)}"

    def _snippet(self, path: str, text: str, first: int, last: int) -> str:
        lines = text.split("\n")
        start = max(1, first - SNIPPET_CONTEXT)
        end = min(len(lines), last + SNIPPET_CONTEXT)
        shown = numbered("\n".join(lines[start - 1 : end]), start)
        return f"Edited {path}. Lines {start}-{end} now read:\n{shown}\nReview the change."

    async def _save(self, path: str, old: str, new: str) -> None:
        await self._write(path, new)
        self.history.setdefault(path, []).append(old)

    async def _sh(self, command: str) -> str:
        result = await self.sandbox.exec(command, timeout=self.timeout)
        if not result.ok:
            raise EditorError(f"editor command failed: {(result.stderr or result.stdout).strip()}")
        if result.truncated:
            raise EditorError("the editor's output was cut short by the sandbox; use bash")
        return result.stdout

    async def _open(self, path: str) -> tuple[str, int, bytes]:
        """What `path` is (`dir`, `file` or `missing`), its size, and a file's first
        `READ_CHUNK` bytes when the editor may open it: one round trip for most files."""
        quoted = shlex.quote(path)
        out = await self._sh(
            f"if [ -d {quoted} ]; then echo dir 0; elif [ -f {quoted} ]; then "
            f"size=$(stat -c %s -- {quoted}); echo file $size; [ $size -gt {MAX_FILE} ] || "
            f"head -c {READ_CHUNK} -- {quoted} | base64 -w0; else echo missing 0; fi"
        )
        first, _, head = out.partition("\n")
        kind, size = first.split()
        return kind, int(size), base64.b64decode(head)

    async def _read(self, path: str, kind: str, size: int, head: bytes) -> str:
        if kind != "file":
            raise EditorError(f"{path} is {'a directory' if kind == 'dir' else 'missing'}")
        if size > MAX_FILE:
            raise EditorError(f"{path} has {size} bytes, more than the editor opens; use bash")
        quoted = shlex.quote(path)
        data = head
        for offset in range(READ_CHUNK, size, READ_CHUNK):
            chunk = await self._sh(
                f"tail -c +{offset + 1} -- {quoted} | head -c {READ_CHUNK} | base64 -w0"
            )
            data += base64.b64decode(chunk)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise EditorError(f"{path} is not UTF-8 text; use bash for binary files") from error

    async def _write(self, path: str, text: str) -> None:
        encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
        quoted = shlex.quote(path)
        parent = shlex.quote(posixpath.dirname(path))
        if len(encoded) <= WRITE_CHUNK:
            await self._sh(f"mkdir -p -- {parent} && printf %s {encoded} | base64 -d > {quoted}")
            return
        staging = shlex.quote(path + ".patchbot-edit")
        await self._sh(f"mkdir -p -- {parent} && : > {staging}")
        for start in range(0, len(encoded), WRITE_CHUNK):
            part = encoded[start : start + WRITE_CHUNK]
            await self._sh(f"printf %s {part} | base64 -d >> {staging}")
        await self._sh(f"cat {staging} > {quoted} && rm -f {staging}")


def _required(value: T | None, name: str, command: str) -> T:
    if value is None:
        raise EditorError(f"{command} needs the `{name}` argument")
    return value
