"""Patchbot's judge: runs pytest with a plugin that records each test's outcome for the verdict.

It runs inside the sandbox, mounted read-only, as `python /opt/patchbot-judge/patchbot_judge.py
<pytest options>`, started without PYTHONPATH: pytest and everything it imports come from the
environment before any folder of the checkout is on sys.path (so no file of it, a `pluggy/` at
its root say, can stand in for one of them); then the judge reads what starts the run from
stdin, a JSON object `{"key", "args", "reruns"}`, puts the checkout's folders
(PATCHBOT_JUDGE_PATH) on sys.path where PYTHONPATH would have them, and registers the plugin
before any conftest or test module is imported. So the process can be started ahead of its
run and wait, pytest imported, until the run's request comes.

The code under test shares its process, so the judge does not trust what it can touch: each
record is signed with the key, which no file, argument or environment variable holds and
which arrives only when the run starts, and chained by its sequence number; a run without the
closing record (an `os._exit`, a killed process) is no verdict at all; and a hook or plugin
that appears after the session started, other than a conftest module of the checkout (which
Patchbot restores from the base commit), is reported as tampering.

Standard library and pytest only; Python 3.9 and later.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import json
import os
import sys
import time
from typing import Any

import pytest

_CRITICAL = (
    "pytest_runtest_protocol",
    "pytest_runtest_setup",
    "pytest_runtest_call",
    "pytest_runtest_teardown",
    "pytest_runtest_makereport",
    "pytest_runtest_logreport",
    "pytest_pyfunc_call",
    "pytest_report_teststatus",
    "pytest_collection_modifyitems",
    "pytest_collectreport",
    "pytest_make_collect_report",
    "pytest_sessionfinish",
)


def _read_start() -> dict[str, Any]:
    """What starts the run, read from stdin to its end; stdin is then /dev/null, as the
    tests' own would be."""
    chunks = []
    while True:
        chunk = os.read(0, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    quiet = os.open(os.devnull, os.O_RDONLY)
    os.dup2(quiet, 0)
    os.close(quiet)
    try:
        start = json.loads(b"".join(chunks))
    except ValueError:
        return {}
    return start if isinstance(start, dict) else {}


class _Writer:
    def __init__(self, key: bytes, path: str) -> None:
        self._key = key
        self._seq = 0
        self._fd = None
        if path:
            # A file left from an earlier run would be read as this run's records.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def write(self, record: dict[str, Any]) -> None:
        if self._fd is None or not self._key:
            return
        body = json.dumps(record, sort_keys=True)
        mac = hmac.new(self._key, f"{self._seq}\n{body}".encode(), hashlib.sha256).hexdigest()
        os.write(
            self._fd, (json.dumps({"seq": self._seq, "body": body, "mac": mac}) + "\n").encode()
        )
        self._seq += 1


class Judge:
    def __init__(self, key: bytes, path: str, reruns: int = 0) -> None:
        self._writer = _Writer(key, path)
        self._reruns = reruns
        self._last: dict[str, str] = {}
        self._phases: dict[str, list[tuple[str, str, str]]] = {}
        self._started: dict[str, float] = {}
        self._known: set[tuple[str, str, int]] | None = None
        self._tampered: list[str] = []
        self._count = 0

    # Tampering: hooks that appear after the session started.

    def _impls(self, config: Any) -> set[tuple[str, str, int]]:
        found = set()
        for name in _CRITICAL:
            caller = getattr(config.pluginmanager.hook, name, None)
            for impl in caller.get_hookimpls() if caller is not None else ():
                found.add((name, impl.plugin_name, id(impl.function)))
        return found

    def _allowed(self, config: Any, plugin_name: str) -> bool:
        plugin = config.pluginmanager.get_plugin(plugin_name)
        path = getattr(plugin, "__file__", None) or ""
        return os.path.basename(path) == "conftest.py"

    def _check(self, config: Any) -> None:
        if self._known is None:
            return
        for name, plugin_name, _ in self._impls(config) - self._known:
            if not self._allowed(config, plugin_name):
                finding = f"{name} registered at run time by {plugin_name}"
                if finding not in self._tampered:
                    self._tampered.append(finding)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session: Any) -> None:
        self._known = self._impls(session.config)

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: Any, nextitem: Any) -> Any:
        """A failing test runs again right after itself, `reruns` times, with fresh fixtures
        and no new start-up; each run is a record of its own."""
        yield
        if self._reruns <= 0 or getattr(item, "_patchbot_again", False):
            return
        if self._last.get(item.nodeid) not in ("failed", "error"):
            return
        if not hasattr(item, "_initrequest"):
            return
        items = item.session.items
        at = next((i for i, other in enumerate(items) if other is item), None)
        if at is None:
            return
        for offset in range(1, self._reruns + 1):
            again = copy.copy(item)
            again._initrequest()  # fresh fixture values, as a newly collected test has
            again._patchbot_again = True
            items.insert(at + offset, again)

    # Outcomes, from the final reports of trusted hooks.

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item: Any, call: Any) -> Any:
        outcome = yield
        report = outcome.get_result()
        self._check(item.config)
        if report.skipped:  # skipped, or failed as expected (xfail)
            state = "skipped"
        elif report.failed:
            state = "failed" if report.when == "call" else "error"
        else:
            state = "passed"
        message = ""
        if report.failed or report.skipped:
            message = str(getattr(report, "longreprtext", "") or "")[-400:]
        self._phases.setdefault(item.nodeid, []).append((report.when, state, message))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self._started[nodeid] = time.monotonic()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        phases = self._phases.pop(nodeid, [])
        states = [state for _, state, _ in phases]
        outcome = "error"
        for state in ("error", "failed", "skipped"):
            if state in states:
                outcome = state
                break
        else:
            if any(when == "call" for when, _, _ in phases):
                outcome = "passed"
        message = next((m for _, s, m in phases if s == outcome), "")
        duration = time.monotonic() - self._started.pop(nodeid, time.monotonic())
        self._count += 1
        self._last[nodeid] = outcome
        self._writer.write(
            {"id": nodeid, "outcome": outcome, "message": message, "duration": duration}
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self._count += 1
            message = str(getattr(report, "longreprtext", "") or "")[-400:]
            self._writer.write(
                {"id": report.nodeid, "outcome": "error", "message": message, "collect": True}
            )

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_sessionfinish(self, session: Any, exitstatus: Any) -> Any:
        self._check(session.config)
        yield
        self._check(session.config)
        self._writer.write(
            {"end": True, "count": self._count, "exitstatus": int(exitstatus),
             "tampered": self._tampered}
        )  # fmt: skip


def main(options: list[str]) -> Any:
    start = _read_start()
    key = str(start.get("key") or "").encode()
    judge = Judge(key, os.environ.pop("PATCHBOT_JUDGE_OUT", ""), int(start.get("reruns") or 0))
    del key
    for name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
        os.environ.pop(name, None)
    checkout = [p for p in os.environ.pop("PATCHBOT_JUDGE_PATH", "").split(os.pathsep) if p]
    if checkout:  # for the tests' own subprocesses
        os.environ["PYTHONPATH"] = os.pathsep.join(checkout)
    # As `python -m pytest` with PYTHONPATH has it, now that pytest is imported.
    sys.path[0:1] = [os.getcwd(), *checkout]
    args = [str(arg) for arg in start.get("args") or []]
    return pytest.main([*options, *args], plugins=[judge])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
