"""The `.github/patchbot.yml` lines that pin a set-up: what worked, or a start to fix one that
did not."""

from __future__ import annotations

import shlex

from bot.setup.model import SetupReport, TestCommand
from bot.setup.paths import VENV

_SPELLINGS = {
    f"uv pip install --python {VENV}/bin/python": "uv pip install",
    f"{VENV}/bin/python -m pip install --no-input": "python -m pip install",
}


def snippet(report: SetupReport) -> str:
    """YAML for `.github/patchbot.yml`: `setup_command` and `test_command`, from the commands
    of the last try (they run with the venv active, so they name no path of it)."""
    install = report.install
    if install is not None and install.command is not None:
        setup = install.command
    else:
        last = report.tries[-1].commands if report.tries else []
        lines = []
        for command in last:
            for long, short in _SPELLINGS.items():
                if command.startswith(long):
                    lines.append(short + command[len(long) :])
        lines += install.scripts if install is not None else []
        setup = "\n".join(lines) or "true"
    out = [_block("setup_command", setup)]
    if report.test is not None:
        out.append(f"test_command: {_scalar(command_line(report.test))}")
    if not report.ok:
        out.insert(0, "# nothing worked: adjust these to what your CI runs")
    return "\n".join(out)


def command_line(test: TestCommand) -> str:
    """The test command as one shell line."""
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in test.env.items())
    command = shlex.join(["python", "-m", test.runner, *test.args])
    return f"{env} {command}" if env else command


def _block(key: str, text: str) -> str:
    if "\n" not in text:
        return f"{key}: {_scalar(text)}"
    return f"{key}: |\n" + "\n".join(f"  {line}" for line in text.splitlines())


def _scalar(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
