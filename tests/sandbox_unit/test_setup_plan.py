"""The set-up plan: what it installs, what keys its cache, and that hostile input stays inert.

The plans' shell commands really run here, with `/env` moved to a temporary folder and
`python3` replaced by a stand-in that records what pip would have been asked to install:
the shell's quoting is checked by the shell, and no package index is contacted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.sandbox.setup_plan import CREATE_VENV, PIP_INSTALL, plan_setup

PIP_OPTIONS = ["-m", "pip", "install", "--no-input", "--disable-pip-version-check"]


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


class SetupRun:
    """Runs a set-up command with `/env` at `env` and a recording `python3` first on PATH."""

    def __init__(self, tmp_path: Path) -> None:
        self.env = tmp_path / "env"
        self.log = tmp_path / "calls.jsonl"
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        recorder = (
            f"import json, sys\nopen({str(self.log)!r}, 'a')"
            ".write(json.dumps(sys.argv[1:]) + '\\n')\n"
        )
        shim = self.bin / "python3"
        shim.write_text(
            f"#!{sys.executable}\n"
            "import os, sys\n"
            f"{recorder}"
            "if sys.argv[1:3] == ['-m', 'venv']:\n"
            "    os.makedirs(sys.argv[-1] + '/bin', exist_ok=True)\n"
            "    python = sys.argv[-1] + '/bin/python'\n"
            f"    open(python, 'w').write({f'#!{sys.executable}' + chr(10) + recorder!r})\n"
            "    os.chmod(python, 0o755)\n"
        )
        shim.chmod(0o755)

    def __call__(self, command: str, workspace: Path) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, PATH=f"{self.bin}:{os.environ['PATH']}")
        return subprocess.run(
            ["bash", "-c", command.replace("/env/", f"{self.env}/")],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def pip_arguments(self) -> list[str]:
        """What pip was asked to install: the arguments after pip's own options."""
        pips = [call for call in self.calls() if call[:3] == ["-m", "pip", "install"]]
        assert len(pips) == 1, self.calls()
        assert pips[0][: len(PIP_OPTIONS)] == PIP_OPTIONS
        return pips[0][len(PIP_OPTIONS) :]


@pytest.fixture
def setup_run(tmp_path: Path) -> SetupRun:
    return SetupRun(tmp_path)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    return path


def test_repository_without_dependencies_only_creates_the_venv(
    copy_example: Callable[[str], Path], setup_run: SetupRun
) -> None:
    calc = copy_example("calc")
    plan = plan_setup(calc)
    assert plan.command == CREATE_VENV
    assert plan.inputs == ["pyproject.toml"]
    assert plan.pythonpath == ["/workspace"]
    done = setup_run(plan.command, calc)
    assert done.returncode == 0, done.stderr
    assert setup_run.calls() == [
        ["-m", "venv", "--system-site-packages", "--without-pip", f"{setup_run.env}/venv"]
    ]


@pytest.mark.parametrize("name", ["with_deps", "setup_fails"])
def test_requirements_file_is_installed_with_r(
    copy_example: Callable[[str], Path], setup_run: SetupRun, name: str
) -> None:
    example = copy_example(name)
    plan = plan_setup(example)
    assert plan.command == f"{CREATE_VENV} && {PIP_INSTALL} -r requirements.txt"
    assert plan.inputs == ["requirements.txt"]
    assert setup_run(plan.command, example).returncode == 0
    assert setup_run.pip_arguments() == ["-r", "requirements.txt"]


def test_hostile_requirement_strings_stay_single_arguments(
    repo: Path, tmp_path: Path, setup_run: SetupRun
) -> None:
    canary = tmp_path / "pwned"
    hostile = [
        f"x; touch {canary}",
        f"$(touch {canary})",
        f"`touch {canary}`",
        "it's\nnew line",
        "a > /dev/null",
    ]
    options = ["--index-url=http://127.0.0.1:9/simple", "-e git+http://127.0.0.1:9/x", "  "]
    pyproject = f"[project]\nname = 'victim'\ndependencies = {json.dumps(hostile + options)}\n"
    write(repo, {"pyproject.toml": pyproject})
    done = setup_run(plan_setup(repo).command or "", repo)
    assert done.returncode == 0, done.stderr
    assert setup_run.pip_arguments() == hostile  # each one argument; options dropped
    assert not canary.exists()


def test_test_extras_and_dependency_groups_are_installed_but_not_docs(
    repo: Path, setup_run: SetupRun
) -> None:
    write(
        repo,
        {
            "pyproject.toml": """
[project]
name = "My_Proj"
dependencies = ["requests>=2"]
[project.optional-dependencies]
test = ["pytest-mock", "my-proj[extra]"]
extra = ["attrs"]
docs = ["sphinx"]
[dependency-groups]
dev = ["ruff", {include-group = "lint"}, {include-group = "dev"}]
lint = ["mypy"]
"""
        },
    )
    plan = plan_setup(repo)
    assert setup_run(plan.command or "", repo).returncode == 0
    arguments = setup_run.pip_arguments()
    assert sorted(arguments) == ["attrs", "mypy", "pytest-mock", "requests>=2", "ruff"]
    assert arguments[0] == "requests>=2"  # the project's own dependencies first


def test_lines_installing_the_project_itself_are_dropped_without_writing_the_checkout(
    repo: Path, setup_run: SetupRun
) -> None:
    write(
        repo,
        {
            "pyproject.toml": "[project]\nname = 'p'\n[project.optional-dependencies]\n"
            "cli = ['click']\n",
            "requirements.txt": "six==1.16.0\n",
            "requirements-dev.txt": "-r requirements.txt\n-e .[cli]\npytest-cov  # coverage\n",
            "requirements/ci.txt": "--requirement ../requirements-dev.txt\ntox\n",
            "constraints.txt": "six<2\n",
        },
    )
    before = snapshot(repo)
    plan = plan_setup(repo)
    done = setup_run(plan.command or "", repo)
    assert done.returncode == 0, done.stderr
    assert snapshot(repo) == before
    rewritten = setup_run.env / "requirements"
    assert setup_run.pip_arguments() == [
        "-c", "constraints.txt",
        "-r", f"{setup_run.env}/requirements/requirements-dev.txt",
        "-r", "requirements.txt",
        "-r", f"{setup_run.env}/requirements/requirements/ci.txt",
        "click",
    ]  # fmt: skip
    assert (rewritten / "requirements-dev.txt").read_text() == (
        "-r /workspace/requirements.txt\npytest-cov\n"
    )
    assert (rewritten / "requirements" / "ci.txt").read_text() == (
        f"-r {setup_run.env}/requirements/requirements-dev.txt\ntox\n"
    )  # /env as this test moved it
    assert plan.inputs == [
        "constraints.txt", "pyproject.toml", "requirements-dev.txt", "requirements.txt",
        "requirements/ci.txt",
    ]  # fmt: skip


def test_inputs_name_every_dependency_file_and_nothing_else(repo: Path) -> None:
    dependency_files = [
        "Pipfile", "Pipfile.lock", "constraints.txt", "poetry.lock", "pyproject.toml",
        "requirements-test.txt", "requirements.txt", "requirements/docs.txt",
        "requirements/extra/deeper.txt", "requirements/main.txt", "setup.cfg", "setup.py",
        "uv.lock",
    ]  # fmt: skip
    others = ["README.md", "notes.txt", "requirements.in", "src/requirements.txt"]
    write(repo, dict.fromkeys(dependency_files + others, ""))
    write(repo, {"requirements/main.txt": "-r extra/deeper.txt\n"})
    assert plan_setup(repo).inputs == dependency_files


def test_dependency_file_reached_through_a_symlink_is_not_read(repo: Path, tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", {"secret.txt": "secret-token-package\n"})
    (repo / "requirements.txt").symlink_to(outside / "secret.txt")
    (repo / "requirements").symlink_to(outside)
    write(repo, {"requirements-dev.txt": "-r requirements/secret.txt\n"})
    plan = plan_setup(repo)
    assert "secret" not in (plan.command or "").replace("requirements/secret.txt", "")
    assert plan.inputs == ["requirements-dev.txt"]


def test_setup_cfg_requirements_are_installed(repo: Path, setup_run: SetupRun) -> None:
    write(
        repo,
        {
            "setup.cfg": "[metadata]\nname = legacy\n\n[options]\ninstall_requires =\n"
            "    numpy>=1.20\n    legacy[fast]\n\n[options.extras_require]\n"
            "fast = cython\ntesting =\n    hypothesis\n",
        },
    )
    assert setup_run(plan_setup(repo).command or "", repo).returncode == 0
    assert setup_run.pip_arguments() == ["numpy>=1.20", "hypothesis", "cython"]


def test_unparseable_pyproject_installs_nothing(repo: Path) -> None:
    write(repo, {"pyproject.toml": "[project\ndependencies = ['x'" + "[" * 5000})
    assert plan_setup(repo).command == CREATE_VENV


def test_configured_command_runs_in_the_venv_after_creating_it(
    repo: Path, tmp_path: Path, setup_run: SetupRun
) -> None:
    out = tmp_path / "out"
    plan = plan_setup(repo, configured=f'echo "$VIRTUAL_ENV $(command -v python)" > {out}; exit 7')
    assert (plan.command or "").startswith(CREATE_VENV)
    done = setup_run(plan.command or "", repo)
    assert done.returncode == 7
    venv = setup_run.env / "venv"
    assert out.read_text().split() == [str(venv), f"{venv}/bin/python"]


def test_pythonpath_has_src_only_when_it_is_a_real_folder(repo: Path, tmp_path: Path) -> None:
    assert plan_setup(repo).pythonpath == ["/workspace"]
    (repo / "src").symlink_to(tmp_path)
    assert plan_setup(repo).pythonpath == ["/workspace"]
    (repo / "src").unlink()
    (repo / "src").mkdir()
    assert plan_setup(repo).pythonpath == ["/workspace/src", "/workspace"]


def test_constraints_alone_install_nothing(repo: Path) -> None:
    write(repo, {"constraints.txt": "six<2\n"})
    plan = plan_setup(repo)
    assert plan.command == CREATE_VENV
    assert plan.inputs == ["constraints.txt"]


def test_a_long_chain_of_included_files_is_followed_only_so_far(repo: Path) -> None:
    chain = {f"requirements/r{n}.txt": f"-r r{n + 1}.txt\npkg{n}\n" for n in range(1000)}
    write(repo, chain)
    plan = plan_setup(repo)
    assert len(plan.inputs) == 1000  # every file in requirements/ keys the cache
    assert (plan.command or "").startswith(CREATE_VENV)
