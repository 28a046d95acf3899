"""Which process made a sandbox, a checkout folder or a scratch disk, and whether it still runs.

A process is named `<host>:<pid>`: the `patchbot.owner` label of its containers and the name
of its folders. Its *instance* tells it apart from a later process with the same name: the
machine, the boot, the pid namespace and the process's start time, kept in the
`patchbot.owner.instance` label and in a `.owner` file in each folder.

Only what is certainly dead is ever removed. A process is dead when it ran on this host
name, in this boot and pid namespace, and no process with its pid and start time runs (its
pid may have been reused since); or when it ran on this machine in an earlier boot.
Anything else (another host, another container with this host name, an instance that
cannot be read) may be alive: it is left alone.
"""

from __future__ import annotations

import enum
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

OWNER_FILE = ".owner"
"""In each folder named for its owner: the owner's instance."""
_lock = threading.Lock()


class Verdict(enum.Enum):
    ALIVE = "alive"
    DEAD = "dead"
    UNKNOWN = "unknown"
    """Another host, another pid namespace, or an instance that cannot be read: may be alive."""


@dataclass(frozen=True)
class Owner:
    label: str
    """`<host>:<pid>`."""
    instance: str
    """`<machine id>/<boot id>/<pid namespace>/<start time>` (`-` for an unknown machine id)."""


def _read(path: str) -> str | None:
    try:
        with open(path) as file:
            return file.read().strip() or None
    except OSError:
        return None


def _start_time(pid: int) -> str | None:
    """The process's start, in clock ticks after boot (field 22 of /proc/PID/stat)."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    return stat.rpartition(")")[2].split()[19]


def _context() -> tuple[str, str, str]:
    """This process's machine id, boot id and pid namespace."""
    namespace = os.readlink("/proc/self/ns/pid").removeprefix("pid:[").removesuffix("]")
    return (
        _read("/etc/machine-id") or "-",
        _read("/proc/sys/kernel/random/boot_id") or "-",
        namespace,
    )


def this_process() -> Owner:
    pid = os.getpid()
    machine, boot, namespace = _context()
    start = _start_time(pid) or "-"
    return Owner(f"{socket.gethostname()}:{pid}", f"{machine}/{boot}/{namespace}/{start}")


def verdict(label: str, instance: str | None) -> Verdict:
    """Whether the process named `label`, with `instance` when it was recorded, still runs."""
    host, _, pid_text = label.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return Verdict.UNKNOWN
    pid = int(pid_text)
    if instance is None:  # made before instances were recorded: the pid alone says
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return Verdict.DEAD
        except PermissionError:
            pass
        return Verdict.ALIVE
    parts = instance.split("/")
    if len(parts) != 4 or "-" in (parts[1], parts[3]):
        return Verdict.UNKNOWN
    machine, boot, namespace, start = parts
    my_machine, my_boot, my_namespace = _context()
    if boot != my_boot:
        return Verdict.DEAD if machine == my_machine != "-" else Verdict.UNKNOWN
    if namespace != my_namespace:
        return Verdict.UNKNOWN
    return Verdict.ALIVE if _start_time(pid) == start else Verdict.DEAD


def mark(folder: Path) -> None:
    """Record this process as the owner of `folder`, in its `.owner` file."""
    me = this_process()
    fresh = folder / f"{OWNER_FILE}.{os.getpid()}"
    fresh.write_text(f"{me.label} {me.instance}\n")
    fresh.replace(folder / OWNER_FILE)


def folder_verdict(folder: Path) -> Verdict:
    """The verdict on the owner of a folder: the one its `.owner` file names, or for a folder
    made before those files, the one it is named for."""
    recorded = _read(str(folder / OWNER_FILE))
    if recorded is None:
        return verdict(folder.name, None)
    label, _, instance = recorded.partition(" ")
    return verdict(label, instance or None)


def owned_folder(root: Path) -> Path:
    """This process's folder under `root`, `<root>/<host>:<pid>`, marked as its own.

    A folder of that name that a dead process with the same pid left becomes this one's (the
    sweep removes what is in it once this process is gone too)."""
    folder = root / this_process().label
    with _lock:
        folder.mkdir(parents=True, exist_ok=True)
        unmarked = not (folder / OWNER_FILE).exists()
        if unmarked or folder_verdict(folder) is Verdict.DEAD:
            mark(folder)
    return folder
