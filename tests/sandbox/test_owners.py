"""Whose is a sandbox or a folder, and is its process certainly dead: real processes."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.sandbox.owners import OWNER_FILE, Verdict, owned_folder, this_process, verdict

HOST = socket.gethostname()


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def instance_of(pid: int) -> str:
    """What `this_process` records, for another process: its machine, boot, namespace, start."""
    machine, boot, namespace, _ = this_process().instance.split("/")
    start = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[19]
    return f"{machine}/{boot}/{namespace}/{start}"


def test_a_running_process_is_alive_and_dead_once_it_ended(
    sleeper: subprocess.Popen[bytes],
) -> None:
    label, instance = f"{HOST}:{sleeper.pid}", instance_of(sleeper.pid)
    assert verdict(label, instance) is Verdict.ALIVE
    assert verdict(this_process().label, this_process().instance) is Verdict.ALIVE
    sleeper.kill()
    sleeper.wait()
    assert verdict(label, instance) is Verdict.DEAD


def test_a_reused_pid_does_not_keep_a_dead_owner_alive(sleeper: subprocess.Popen[bytes]) -> None:
    machine, boot, namespace, start = instance_of(sleeper.pid).split("/")
    earlier = f"{machine}/{boot}/{namespace}/{int(start) - 100}"  # the pid's previous holder
    assert verdict(f"{HOST}:{sleeper.pid}", earlier) is Verdict.DEAD


def test_what_cannot_be_checked_from_here_is_never_dead(sleeper: subprocess.Popen[bytes]) -> None:
    machine, boot, namespace, start = instance_of(sleeper.pid).split("/")
    gone = 4_000_000  # above any pid_max: no such process here
    cases = {
        "another host": (f"elsewhere.example:{gone}", f"{machine}/{boot}/{namespace}/{start}"),
        "another pid namespace, same host name": (f"{HOST}:{gone}", f"{machine}/{boot}/1/{start}"),
        "another machine's boot": (f"{HOST}:{gone}", f"other-machine/other-boot/{namespace}/1"),
        "an unknown machine's boot": (f"{HOST}:{gone}", f"-/other-boot/{namespace}/1"),
        "an unreadable instance": (f"{HOST}:{gone}", "garbage"),
        "no pid": ("garbage", None),
    }
    verdicts = {case: verdict(label, instance) for case, (label, instance) in cases.items()}
    assert verdicts == dict.fromkeys(cases, Verdict.UNKNOWN)


def test_this_machine_s_earlier_boot_is_dead() -> None:
    machine, _, namespace, _ = this_process().instance.split("/")
    if machine == "-":
        pytest.skip("this machine has no /etc/machine-id")
    assert verdict(f"{HOST}:{os.getpid()}", f"{machine}/earlier-boot/{namespace}/1") is (
        Verdict.DEAD
    )


def test_labels_without_an_instance_are_judged_by_their_pid(
    sleeper: subprocess.Popen[bytes],
) -> None:
    assert verdict(f"{HOST}:{sleeper.pid}", None) is Verdict.ALIVE
    assert verdict(f"{HOST}:4000000", None) is Verdict.DEAD


def test_owned_folder_is_marked_and_taken_over_only_from_the_dead(tmp_path: Path) -> None:
    me = this_process()
    folder = owned_folder(tmp_path)
    assert folder == tmp_path / me.label
    assert (folder / OWNER_FILE).read_text() == f"{me.label} {me.instance}\n"
    assert owned_folder(tmp_path) == folder

    machine, boot, namespace, start = me.instance.split("/")
    dead = f"{me.label} {machine}/{boot}/{namespace}/{int(start) - 1}\n"  # an earlier holder
    (folder / OWNER_FILE).write_text(dead)
    owned_folder(tmp_path)
    assert (folder / OWNER_FILE).read_text() == f"{me.label} {me.instance}\n"

    unknown = f"{me.label} {machine}/{boot}/1/{start}\n"  # a same-named process elsewhere
    (folder / OWNER_FILE).write_text(unknown)
    owned_folder(tmp_path)
    assert (folder / OWNER_FILE).read_text() == unknown
