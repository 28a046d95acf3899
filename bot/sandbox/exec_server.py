"""The exec server: runs inside every sandbox container as `python3 -c <this file> UID GID`,
as its PID 1, and runs each command it is sent as the sandbox's user UID:GID.

It runs as the container's root with only the capabilities it needs to start a command as
that user and to end it (SETUID, SETGID, SETPCAP, KILL); each command runs with none, its
bounding set emptied too. Being another user is what keeps the commands away from it: they
cannot signal it, lower its resource limits (a `prlimit` from the same user can make the
kernel kill any process), trace it or read its /proc files, so no command can take the
sandbox down or write answers in its name. It alone holds the container's stdin and stdout.

Commands run one at a time, so when one ends (or reaches its timeout) every other process
in the container (but the set-up network's relay, see `relay`) is one it started, however it
left its process group or session (`setsid`, double forks): the server kills them all and
reaps them before it answers.

It reads one JSON request per line on stdin and answers one JSON line per request on
stdout, so that many commands cost one container start instead of one `docker exec` each.
Standard library only; it must not import anything from `bot` (it runs in the image's
Python). Requests: `{"id", "command", "cwd", "timeout", "cap", "stream", "stdin"}` (`stdin`,
if given, is written to the command's stdin, then closed; else stdin is /dev/null). Answers:
`{"id", "exit_code", "stdout", "stderr", "duration", "timed_out", "truncated", "limits",
"full"}` (`limits`: the names of the limits the command ran into, of time, output, memory,
pids and disk; `full`: the writable filesystems it left full, if any) and, with `stream`,
`{"id", "stream": "stdout"|"stderr", "data"}` chunks before it: the same text as the answer,
so no more than `cap` bytes of each stream.

A request `{"id", "relay": SOCKET, "port": PORT}` starts the set-up network's relay (see
`bot.setup.proxy`): TCP connections to 127.0.0.1:PORT are passed on to the Unix socket SOCKET,
by a process of its own that a command's end spares (see `relay`). Answer:
`{"id", "relay": true}`.

A request `{"id", "prepare": COMMAND, "cwd"}` starts COMMAND ahead of the request that runs it,
for a command that reads its stdin before it does anything else (the test judge, which
imports pytest meanwhile): the next request with the same command and folder and a `stdin`
gets that process, its stdin written at once. Answer: `{"id", "prepared": true}`. It is the
one process of the user's that outlives other commands, so one of them can signal or trace
it; it serves no one but the next run in its sandbox, and where a run is a verdict nothing
runs between its start and its use. A run with another command and a `stdin` ends it.
"""

from __future__ import annotations  # the annotations of Python 3.10 in the 3.9 image

import codecs
import contextlib
import ctypes
import errno
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

TIMEOUT_EXIT = 124
CHDIR_FAILED_EXIT = 126
END_TIMEOUT = 5.0
"""Seconds to wait for the processes a command left to die once killed."""
NO_SPACE = os.strerror(errno.ENOSPC).encode()
"""What a program says when a write finds the disk full: a limit hit, even once the program
(or an overlay's copy-up) removed what it had written."""
WORKSPACE = "/workspace"
"""The checkout (`bot.setup.paths.WORKSPACE`, which this file may not import): where a command
runs when its request names no `cwd`, the same for `prepare` and `run`, which match a prepared
process by its folder."""
WRITABLE = (WORKSPACE, "/tmp", "/env")
"""Where commands may write: each a filesystem with a size limit."""
_COUNTERS = {
    "memory": (
        ("/sys/fs/cgroup/memory.events", "oom_kill"),
        ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
    ),
    "pids": (("/sys/fs/cgroup/pids.events", "max"), ("/sys/fs/cgroup/pids/pids.events", "max")),
}
"""Per limit, the cgroup (v2, then v1) file and line that count the times it was hit."""
_PR_CAPBSET_DROP = 24
RELAY_UID = 65534
"""The set-up network's relay runs as `nobody`: not the commands' user, not root."""
RELAY_CONNECTIONS = 32
"""Connections the relay passes on at once; more are closed."""
_RELAYS: set[int] = set()
"""The relay processes: spared when a command's processes are killed."""
_PF_EXITING = 0x4
"""A process's flag (in /proc/PID/stat) once it has begun to exit."""
_PREPARED: dict[tuple[str, str], subprocess.Popen[bytes]] = {}
"""The command started ahead (see `prepare`), by its command and folder: at most one, spared
when a command's processes are killed."""


def _counter(limit: str) -> int:
    for path, key in _COUNTERS[limit]:
        try:
            with open(path) as counters:
                for line in counters:
                    name, _, value = line.partition(" ")
                    if name == key:
                        return int(value)
        except OSError:
            continue
    return 0


def _counters() -> dict[str, int]:
    return {limit: _counter(limit) for limit in _COUNTERS}


def _filesystems() -> dict[str, os.statvfs_result]:
    """The writable filesystems commands may write to, by mount point."""
    found = {}
    for path in WRITABLE:
        with contextlib.suppress(OSError):
            stat = os.statvfs(path)
            if stat.f_blocks and not stat.f_flag & os.ST_RDONLY:
                found[path] = stat
    return found


def disks() -> dict[str, int]:
    """The size in bytes of each writable filesystem, for the host to check its limits."""
    return {path: stat.f_blocks * stat.f_frsize for path, stat in _filesystems().items()}


def _full() -> list[str]:
    """The writable filesystems with (nearly) no room or no inodes left."""
    return [
        path
        for path, stat in _filesystems().items()
        if stat.f_bavail * stat.f_frsize < max(1 << 20, stat.f_blocks * stat.f_frsize // 100)
        or (stat.f_files and not stat.f_favail)
    ]


class _User:
    """The sandbox's user, as each command's process becomes it before running the command."""

    def __init__(self, uid: int, gid: int) -> None:
        self.uid = uid
        self.gid = gid
        self.libc = ctypes.CDLL(None, use_errno=True)
        with open("/proc/sys/kernel/cap_last_cap") as last:
            self.capabilities = range(int(last.read()) + 1)
        self.home = os.environ.get("HOME") or "/tmp/home"

    def become(self, cwd: str) -> Callable[[], None]:
        """Put the process first in line for the out-of-memory killer (still as root: its
        /proc files are root's), drop every capability for good, become the user, and go to
        `cwd` as the user."""

        def preexec() -> None:
            with open("/proc/self/oom_score_adj", "w") as score:
                score.write("1000")
            for capability in self.capabilities:
                self.libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0)
            os.setgroups([])
            os.setresgid(self.gid, self.gid, self.gid)
            os.setresuid(self.uid, self.uid, self.uid)
            with contextlib.suppress(OSError):  # a full /tmp: the command runs all the same
                os.makedirs(self.home, exist_ok=True)
            try:
                os.chdir(cwd)
            except OSError as error:
                os.write(2, f"patchbot: cannot enter {cwd}: {error.strerror}\n".encode())
                os._exit(CHDIR_FAILED_EXIT)

        return preexec


class _Capture:
    """Keeps the first and last `cap // 2` bytes of a stream and counts the rest; `send`, if
    given, gets the same text as `text()`: the head as it comes, the rest at `finish`."""

    def __init__(self, cap: int, send: Callable[[str], None] | None) -> None:
        self.half = cap // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0
        self.send = send
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def add(self, data: bytes) -> None:
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            self._emit(self.decoder.decode(data[:room]))
            data = data[room:]
        self.tail += data
        excess = len(self.tail) - self.half
        if excess > 0:
            del self.tail[:excess]
            self.dropped += excess

    def finish(self) -> None:
        if self.dropped:
            rest = self.decoder.decode(b"", final=True) + self._cut()
            self._emit(rest + self.tail.decode("utf-8", "replace"))
        else:
            self._emit(self.decoder.decode(bytes(self.tail), final=True))

    def said(self, words: bytes) -> bool:
        return words in self.head or words in self.tail

    def text(self) -> str:
        if self.dropped:
            head = self.head.decode("utf-8", "replace")
            return head + self._cut() + self.tail.decode("utf-8", "replace")
        return (self.head + self.tail).decode("utf-8", "replace")

    def _cut(self) -> str:
        return f"\n[... {self.dropped} bytes truncated ...]\n"

    def _emit(self, text: str) -> None:
        if text and self.send is not None:
            self.send(text)


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid <= 0:
                return
            _RELAYS.discard(pid)  # a relay that died: its pid may be a command's next
            for process in _PREPARED.values():  # one a command killed: never waited for again
                if process.pid == pid:
                    process.returncode = os.waitstatus_to_exitcode(status)


def _others() -> list[int]:
    """Every process in the container but this one, the relay and the prepared command."""
    prepared = [process.pid for process in _PREPARED.values() if process.returncode is None]
    spared = {os.getpid(), *_RELAYS, *prepared}
    return [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) not in spared]


def _kill_others() -> bool:
    """SIGKILL every other process; False when there was none left."""
    others = _others()
    for pid in others:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return bool(others)


def _end_all(process: subprocess.Popen[bytes]) -> None:
    """Kill every process in the container but this one and the relay, and reap them: the
    command's (first, so that `process` keeps its exit status) and whatever it left."""
    _kill_others()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(END_TIMEOUT)
    deadline = time.monotonic() + END_TIMEOUT
    while time.monotonic() < deadline:
        _reap()  # zombies count: this ends once every process is gone and reaped
        if not _kill_others():
            return
        time.sleep(0.0002)
    print("exec server: processes left that would not die", file=sys.stderr, flush=True)


def _send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _pump(
    process: subprocess.Popen[bytes], captures: dict[int, _Capture], deadline: float, feed: bytes
) -> bool:
    """Write `feed` to the command's stdin, if it has one, as it reads it (then close it), and
    read the command's output until it exits; True when it reached `deadline` first."""
    try:
        exited: int | None = os.pidfd_open(process.pid)
    except OSError:  # no pidfd: poll for the exit between reads
        exited = None
    open_fds = set(captures)
    stdin = process.stdin
    pending = memoryview(feed)
    if stdin is not None:
        os.set_blocking(stdin.fileno(), False)
    try:
        while process.poll() is None:
            if stdin is not None and not pending:
                _close(stdin)
                stdin = None
            wait = deadline - time.monotonic()
            if wait <= 0:
                return True
            watched = [*open_fds, exited] if exited is not None else list(open_fds)
            if exited is None:
                wait = min(wait, 0.05)
            writing = [stdin.fileno()] if stdin is not None else []
            ready, writable, _ = select.select(watched, writing, [], wait)
            if writable:
                try:
                    pending = pending[os.write(writable[0], pending[:65536]) :]
                except BlockingIOError:
                    pass
                except BrokenPipeError:  # it stopped reading: its exit is the run's
                    pending = pending[:0]
            for fd in ready:
                if fd == exited:
                    continue
                data = os.read(fd, 65536)
                if data:
                    captures[fd].add(data)
                else:  # the pipes can close long before the command ends (`exec >/dev/null`)
                    open_fds.discard(fd)
        return False
    finally:
        if stdin is not None:
            _close(stdin)
        if exited is not None:
            os.close(exited)


def _close(pipe: Any) -> None:
    with contextlib.suppress(OSError):  # a reader gone: nothing was left unwritten to lose
        pipe.close()


def _drain(captures: dict[int, _Capture]) -> None:
    """Read what is left in the pipes once every writer is gone."""
    open_fds = set(captures)
    while open_fds:
        ready, _, _ = select.select(list(open_fds), [], [], END_TIMEOUT)
        if not ready:
            return
        for fd in ready:
            data = os.read(fd, 65536)
            if data:
                captures[fd].add(data)
            else:
                open_fds.discard(fd)


def _streamer(request_id: Any, name: str) -> Callable[[str], None]:
    def send(text: str) -> None:
        _send({"id": request_id, "stream": name, "data": text})

    return send


def _spawn(command: str, cwd: str, user: _User, *, stdin: bool) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["bash", "-c", command],
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=user.become(cwd),
    )


def _end_prepared() -> None:
    for process in _PREPARED.values():
        _end(process)
    _PREPARED.clear()


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.returncode is None:
        process.kill()
        process.wait()
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()


def prepare(request: dict[str, Any], user: _User) -> None:
    """Start the request's command now, for the run request that will have the same command
    and folder (see the module's docstring); one prepared before is ended."""
    _end_prepared()
    command, cwd = str(request["prepare"]), request.get("cwd") or WORKSPACE
    _PREPARED[command, cwd] = _spawn(command, cwd, user, stdin=True)


def _start(command: str, cwd: str, user: _User, stdin: bool) -> subprocess.Popen[bytes]:
    """The process that runs `command`: with a `stdin` to write, the one prepared for it when
    there is one, else a new one."""
    if not stdin:
        return _spawn(command, cwd, user, stdin=False)
    process = _PREPARED.pop((command, cwd), None)
    _end_prepared()  # one for another command is of no use now
    if process is not None and _dying(process):
        _end(process)
        process = None
    if process is None:
        return _spawn(command, cwd, user, stdin=True)
    os.kill(process.pid, signal.SIGCONT)  # a command may have stopped it
    return process


def _dying(process: subprocess.Popen[bytes]) -> bool:
    """Whether `process` has ended or is about to: a SIGKILL a command sent it is pending, or
    it has begun to exit, which the command's end does not wait for."""
    if process.poll() is not None:
        return True
    try:
        with open(f"/proc/{process.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        state, flags = fields[0], int(fields[6])
        with open(f"/proc/{process.pid}/status") as status:
            pending = [
                int(line.split()[1], 16) for line in status if line.startswith(("SigPnd", "ShdPnd"))
            ]
    except (OSError, ValueError, IndexError):
        return True
    kill = 1 << (signal.SIGKILL - 1)
    return state in "ZX" or bool(flags & _PF_EXITING) or any(mask & kill for mask in pending)


def run(request: dict[str, Any], user: _User) -> dict[str, Any]:
    started = time.monotonic()
    deadline = started + float(request.get("timeout") or 120)
    cap = int(request.get("cap") or 65536)
    before = _counters()
    cwd = request.get("cwd") or WORKSPACE
    given = request.get("stdin")
    process = _start(request["command"], cwd, user, given is not None)
    assert process.stdout is not None and process.stderr is not None
    out, err = (
        _Capture(cap, _streamer(request.get("id"), name) if request.get("stream") else None)
        for name in ("stdout", "stderr")
    )
    captures = {process.stdout.fileno(): out, process.stderr.fileno(): err}
    try:
        timed_out = _pump(process, captures, deadline, str(given or "").encode())
    finally:
        _end_all(process)
    _drain(captures)
    process.stdout.close()
    process.stderr.close()
    out.finish()
    err.finish()
    if timed_out:
        exit_code = TIMEOUT_EXIT
    elif process.returncode is None:  # it would not die (see _end_all)
        exit_code = 128 + signal.SIGKILL
    else:
        exit_code = process.returncode if process.returncode >= 0 else 128 - process.returncode
    after = _counters()
    full = _full()
    truncated = bool(out.dropped or err.dropped)
    limits = [name for name, count in after.items() if count > before[name]]
    no_space = any(capture.said(NO_SPACE) for capture in (out, err))  # a write that failed
    limits += ["time"] * timed_out + ["output"] * truncated + ["disk"] * bool(full or no_space)
    return {
        "id": request.get("id"),
        "exit_code": exit_code,
        "stdout": out.text(),
        "stderr": err.text(),
        "duration": round(time.monotonic() - started, 4),
        "timed_out": timed_out,
        "truncated": truncated,
        "limits": limits,
        "full": full,
    }


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    for end in (source, target):
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)


def _relay_one(client: socket.socket, path: str, slots: threading.Semaphore) -> None:
    try:
        with client, socket.socket(socket.AF_UNIX) as upstream:
            try:
                upstream.connect(path)
            except OSError:
                return
            back = threading.Thread(target=_pipe, args=(client, upstream), daemon=True)
            back.start()
            _pipe(upstream, client)
            back.join()  # both ends closed only once neither thread uses them
    finally:
        slots.release()


def _serve_relay(server: socket.socket, path: str) -> None:
    slots = threading.Semaphore(RELAY_CONNECTIONS)
    while True:
        try:
            client, _ = server.accept()
        except OSError:  # out of file descriptors: let some connections end
            time.sleep(0.1)
            continue
        if not slots.acquire(blocking=False):
            client.close()  # a command holding every slot only shuts itself out
            continue
        try:
            threading.Thread(target=_relay_one, args=(client, path, slots), daemon=True).start()
        except RuntimeError:  # no thread to be had (the pids limit counts threads)
            client.close()
            slots.release()


def relay(path: str, port: int) -> None:
    """Listen on 127.0.0.1:`port` and pass each connection to the Unix socket `path`, in a
    process of its own: a user of its own (no command can signal or trace it) and spared when
    a command's processes are killed. This server never runs a thread (it forks commands)."""
    server = socket.socket()
    try:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(64)
        pid = os.fork()
        if pid == 0:
            try:
                quiet = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1):  # the server's channel is the server's alone
                    os.dup2(quiet, fd)
                os.setgroups([])
                os.setresgid(RELAY_UID, RELAY_UID, RELAY_UID)
                os.setresuid(RELAY_UID, RELAY_UID, RELAY_UID)
                _serve_relay(server, path)
            finally:
                os._exit(1)
        _RELAYS.add(pid)
    finally:
        server.close()  # the relay has its own copy


def main() -> None:
    user = _User(int(sys.argv[1]), int(sys.argv[2]))
    _send({"ready": True, "uid": user.uid, "disks": disks()})
    for line in sys.stdin:
        request: dict[str, Any] = {}
        try:
            request = json.loads(line)
            if "relay" in request:
                relay(str(request["relay"]), int(request["port"]))
                answer = {"id": request.get("id"), "relay": True}
            elif "prepare" in request:
                prepare(request, user)
                answer = {"id": request.get("id"), "prepared": True}
            else:
                answer = run(request, user)
        except Exception as error:  # report, never die: the host decides what to do
            answer = {"id": request.get("id"), "error": f"{type(error).__name__}: {error}"}
        _send(answer)


if __name__ == "__main__":
    main()
