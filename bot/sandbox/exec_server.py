"""The exec server: runs inside every sandbox container as `python3 -c <this file>`, as its
PID 1, so that it alone holds the container's stdin and stdout: it makes itself non-dumpable,
and then no command can read its requests or write answers in its name through /proc.

It reads one JSON request per line on stdin and answers one JSON line per request on
stdout, so that many commands cost one container start instead of one `docker exec` each.
Standard library only; it must not import anything from `bot` (it runs in the image's
Python). Requests: `{"id", "command", "cwd", "timeout", "cap", "stream"}`. Answers:
`{"id", "exit_code", "stdout", "stderr", "duration", "timed_out", "truncated", "oom_killed"}`
and, with `stream`, `{"id", "stream": "stdout"|"stderr", "data"}` chunks before it.
"""

import codecs
import contextlib
import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import time
from typing import Any

TIMEOUT_EXIT = 124
GRACE_AFTER_EXIT = 0.3
"""Seconds to keep reading after the command exits, for output its children still write."""

_OOM_COUNTERS = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")


def _set_dumpable(flag: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(4, flag, 0, 0, 0)  # PR_SET_DUMPABLE = 4


def _doomed_first() -> None:
    """In each command's process: be the out-of-memory killer's first choice, not the server.
    (An unprivileged process may raise its own score, never lower it; the fork inherits the
    server's non-dumpable flag, which makes its /proc files root's until it is undone.)"""
    _set_dumpable(1)
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as score:
        score.write("1000")


def _oom_kills() -> int:
    for path in _OOM_COUNTERS:
        try:
            with open(path) as counters:
                for line in counters:
                    name, _, value = line.partition(" ")
                    if name == "oom_kill":
                        return int(value)
        except OSError:
            continue
    return 0


class _Capture:
    """Keeps the first and last `cap // 2` bytes of a stream and counts the rest."""

    def __init__(self, cap: int) -> None:
        self.half = cap // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        excess = len(self.tail) - self.half
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if self.dropped:
            return f"{head}\n[... {self.dropped} bytes truncated ...]\n{tail}"
        return head + tail


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_tree(process: subprocess.Popen[bytes]) -> None:
    """Kill the command's process group and every descendant, even those that left it."""
    victims = _descendants(process.pid)
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    for pid in victims:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _reap_orphans() -> None:
    """This server is the container's PID 1: collect the processes that commands left behind
    and that have ended since, so they do not pile up as zombies (never while a command runs,
    whose exit status `subprocess` must collect itself)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def run(request: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    deadline = started + float(request.get("timeout") or 120)
    cap = int(request.get("cap") or 65536)
    stream = bool(request.get("stream"))
    oom_before = _oom_kills()
    process = subprocess.Popen(
        ["bash", "-c", request["command"]],
        cwd=request.get("cwd") or "/workspace",
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_doomed_first,
    )
    assert process.stdout is not None and process.stderr is not None
    names = {process.stdout.fileno(): "stdout", process.stderr.fileno(): "stderr"}
    captures = {name: _Capture(cap) for name in names.values()}
    decoders = {name: codecs.getincrementaldecoder("utf-8")("replace") for name in names.values()}
    open_fds = set(names)
    timed_out = False
    exited_at: float | None = None
    while open_fds:
        now = time.monotonic()
        if exited_at is None and process.poll() is not None:
            exited_at = now
        if exited_at is not None and now - exited_at > GRACE_AFTER_EXIT:
            break  # the command is done; children it left in the background keep the pipes
        if now >= deadline:
            timed_out = True
            _kill_tree(process)
            break
        wait = min(deadline - now, 0.1)
        ready, _, _ = select.select(list(open_fds), [], [], wait)
        for fd in ready:
            data = os.read(fd, 65536)
            if not data:
                open_fds.discard(fd)
                continue
            name = names[fd]
            captures[name].add(data)
            if stream:
                text = decoders[name].decode(data)
                if text:
                    _send({"id": request.get("id"), "stream": name, "data": text})
    if not timed_out:
        try:  # the pipes can close long before the command ends (`exec >/dev/null`)
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_tree(process)
    if timed_out:
        process.wait()
        exit_code = TIMEOUT_EXIT
    else:
        exit_code = process.wait()
        if exit_code < 0:
            exit_code = 128 - exit_code
    process.stdout.close()
    process.stderr.close()
    return {
        "id": request.get("id"),
        "exit_code": exit_code,
        "stdout": captures["stdout"].text(),
        "stderr": captures["stderr"].text(),
        "duration": round(time.monotonic() - started, 4),
        "timed_out": timed_out,
        "truncated": any(capture.dropped for capture in captures.values()),
        "oom_killed": _oom_kills() > oom_before,
    }


def main() -> None:
    _set_dumpable(0)  # hide this process's memory and fds from the commands it runs
    os.makedirs(os.environ.get("HOME") or "/tmp/home", exist_ok=True)
    _send({"ready": True, "uid": os.getuid()})
    for line in sys.stdin:
        request: dict[str, Any] = {}
        try:
            request = json.loads(line)
            answer = run(request)
        except Exception as error:  # report, never die: the host decides what to do
            answer = {"id": request.get("id"), "error": f"{type(error).__name__}: {error}"}
        _reap_orphans()
        _send(answer)


if __name__ == "__main__":
    main()
