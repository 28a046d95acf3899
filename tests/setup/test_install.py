"""The install commands: one quoted argument per requirement, files inlined only without the
dropped names, each file alone when asked."""

from __future__ import annotations

import shlex

from bot.setup.install import install_commands, venv_commands
from bot.setup.model import Install

from .conftest import WriteRepo


def test_uv_command_with_project_extras_files_and_date(write_repo: WriteRepo) -> None:
    pyproject = '[build-system]\nrequires = ["hatchling>=1", "hatch-vcs"]\n'
    install = Install(
        extras=["test"], files=["req.txt"], requirements=["a>=1"], exclude_newer="2020-01-02"
    )
    [command] = install_commands("uv", install, write_repo({"pyproject.toml": pyproject}))
    # the build backends stay current: one of 2020 may not run on today's Python
    assert shlex.split(command) == [
        "uv", "pip", "install", "--python", "/env/venv/bin/python", "--exclude-newer", "2020-01-02",
        "--exclude-newer-package", "hatch-vcs=2999-12-31",
        "--exclude-newer-package", "hatchling=2999-12-31",
        "--exclude-newer-package", "setuptools=2999-12-31",
        "--exclude-newer-package", "wheel=2999-12-31",
        "-r", "req.txt", "-e", ".[test]", "a>=1",
    ]  # fmt: skip


def test_hostile_requirement_strings_stay_single_arguments(write_repo: WriteRepo) -> None:
    hostile = ["x; rm -rf /", "$(touch /tmp/p)", "`id`", "a' b"]
    [command] = install_commands(
        "pip", Install(project=False, requirements=hostile), write_repo({})
    )
    assert shlex.split(command)[-4:] == hostile


def test_dropped_names_inline_the_files_without_them(write_repo: WriteRepo) -> None:
    repo = write_repo(
        {"dev.txt": "-r base.txt\ntypes-x  # stubs\npytest\n", "base.txt": "six\n-e .\n"}
    )
    install = Install(project=False, files=["dev.txt"], dropped=["types-x"])
    [command] = install_commands("uv", install, repo)
    assert shlex.split(command)[5:] == ["six", "pytest"]


def test_separate_installs_each_file_then_the_rest(write_repo: WriteRepo) -> None:
    install = Install(files=["a.txt", "b.txt"], separate=True, requirements=["x"])
    commands = [shlex.split(c)[5:] for c in install_commands("uv", install, write_repo({}))]
    assert commands == [["-r", "a.txt"], ["-r", "b.txt"], ["-e", ".", "x"]]


def test_a_maintainers_command_runs_in_a_venv_with_pip(write_repo: WriteRepo) -> None:
    install = Install(command="pip install -e .[test]")
    assert venv_commands("uv", install)[-1].startswith("python3 -m venv")  # pip inside
    [command] = install_commands("uv", install, write_repo({}))
    assert command.endswith("\npip install -e .[test]") and "VIRTUAL_ENV=/env/venv" in command
