"""The try rules: each reads a failed try's output and proposes one change, never a repository
by name."""

from __future__ import annotations

from pathlib import Path

from bot.setup.model import Install
from bot.setup.rules import Context, next_install

from .conftest import WriteRepo

UV_NOT_FOUND = """
  x No solution found when resolving dependencies:
  `-> Because types-pkg-resources was not found in the package registry and you require
      types-pkg-resources, we can conclude that your requirements are unsatisfiable.
"""
PIP_CONFLICT = """
ERROR: Cannot install click==8.0.0 and click==8.1.3 because these package versions have
conflicting dependencies.
The conflict is caused by:
    The user requested click==8.0.0
    The user requested click==8.1.3
ERROR: ResolutionImpossible
"""


def context(repo: Path, age: float = 10, installer: str = "uv") -> Context:
    return Context(
        workspace=repo, installer=installer, commit_age_days=age, commit_date="2019-09-05"
    )


def test_an_uninstallable_stub_the_tests_never_import_is_dropped(write_repo: WriteRepo) -> None:
    repo = write_repo({
        "requirements-dev.txt": "pytest\ntypes-pkg-resources\n",
        "tests/test_a.py": "import pkg_resources\n",
    })  # fmt: skip
    install = Install(files=["requirements-dev.txt"])
    rule, proposal = next_install(install, "install_failed", UV_NOT_FOUND, context(repo)) or (
        "",
        None,
    )
    assert "drop" in rule
    assert proposal is not None and proposal.dropped == ["types-pkg-resources"]


def test_a_requirement_the_tests_import_is_never_dropped(write_repo: WriteRepo) -> None:
    repo = write_repo({"tests/test_a.py": "import click\n", "setup.py": ""})
    install = Install(requirements=["click==8.0.0", "click==8.1.3"], files=["a.txt", "b.txt"])
    rule, proposal = next_install(install, "install_failed", PIP_CONFLICT, context(repo)) or (
        "",
        None,
    )
    assert proposal is not None and not proposal.dropped
    assert rule.startswith("install the requirement files one by one") and proposal.separate


def test_an_old_commit_resolves_as_of_its_date(write_repo: WriteRepo) -> None:
    repo = write_repo({"tests/test_a.py": "import x\n"})
    output = "E   ImportError: cannot import name 'formatargspec' from 'inspect'"
    install = Install(project=False)
    assert next_install(install, "collection_errors", output, context(repo, age=30)) is None
    found = next_install(install, "collection_errors", output, context(repo, age=2000))
    assert found is not None and found[1].exclude_newer == "2019-09-05"
    assert next_install(install, "collection_errors", output, context(repo, 2000, "pip")) is None


def test_a_missing_module_brings_its_distribution_but_not_the_projects_own(
    write_repo: WriteRepo,
) -> None:
    repo = write_repo({"src/mypkg/__init__.py": ""})
    output = (
        "E   ModuleNotFoundError: No module named 'six'\n"
        "No module named 'mypkg._version'\nNo module named 'yaml'"
    )
    install = Install(requirements=["pytest"])
    found = next_install(install, "collection_errors", output, context(repo))
    assert found is not None and found[1].requirements == ["pytest", "six", "PyYAML"]


def test_an_unknown_pytest_option_brings_its_plugin(write_repo: WriteRepo) -> None:
    output = "pytest: error: unrecognized arguments: --cov=x --cov-report=term -n"
    proposal = next_install(Install(), "collection_errors", output, context(write_repo({})))
    assert proposal is not None and proposal[1].requirements == ["pytest-cov", "pytest-xdist"]


def test_a_maintainers_command_is_never_second_guessed(write_repo: WriteRepo) -> None:
    install = Install(command="pip install -e .")
    assert next_install(install, "install_failed", UV_NOT_FOUND, context(write_repo({}))) is None


def test_a_build_failure_falls_back_to_the_images_setuptools_then_regular_then_no_project(
    write_repo: WriteRepo,
) -> None:
    repo = write_repo({"setup.py": ""})
    install = Install()
    steps = []
    for _ in range(4):
        found = next_install(
            install, "install_failed", "error: subprocess-exited-with-error", context(repo)
        )
        if found is None:
            break
        steps.append(found[0])
        install = found[1]
    assert [s.split()[0] for s in steps] == ["build", "install", "leave"]
    assert not install.project and not install.build_isolation


def test_the_last_resort_installs_nothing_and_no_install_is_tried_twice(
    write_repo: WriteRepo,
) -> None:
    repo = write_repo({})
    install = Install(project=False, requirements=["pytest"])
    found = next_install(install, "install_failed", "network unreachable", context(repo))
    assert found is not None and found[0].startswith("install nothing")
    assert found[1] == Install(project=False, editable=False)
    again = next_install(install, "install_failed", "x", context(repo), tried=[found[1]])
    assert again is None


def test_an_unimported_requirement_crashing_the_collection_is_left_out(
    write_repo: WriteRepo,
) -> None:
    repo = write_repo({"tests/test_a.py": "import pytest\n"})
    output = (
        'File "/env/venv/lib/python3.9/site-packages/coverage/collector.py", line 9\n'
        'File "/env/venv/lib/python3.9/site-packages/_pytest/main.py", line 3\n'
        "E   KeyError: 'BREAK_LOOP'\n"
    )
    install = Install(requirements=["coverage<4", "pytest", "pytest-cov"])
    found = next_install(install, "collection_errors", output, context(repo))
    assert found is not None and found[0].startswith("leave out a requirement")
    assert found[1].dropped == ["coverage"]


def test_a_lint_pin_conflicting_with_the_project_itself_is_dropped(write_repo: WriteRepo) -> None:
    repo = write_repo({"setup.py": "", "pyflakes/test/test_api.py": "import pyflakes\n"})
    output = (
        "  x No solution found when resolving dependencies:\n"
        "  `-> Because only pyflakes==3.4.0 is available and flake8==6.1.0 depends on\n"
        "      pyflakes>=3.1.0,<3.2.0, we can conclude that flake8==6.1.0 cannot be used.\n"
    )
    install = Install(requirements=["flake8==6.1.0"])
    found = next_install(install, "install_failed", output, context(repo))
    assert found is not None and found[1].dropped == ["flake8"]


def test_an_unimported_requirement_that_cannot_be_built_is_dropped(write_repo: WriteRepo) -> None:
    repo = write_repo({"tests/test_a.py": "import yaml\n"})
    output = (
        "  x Failed to build `coverage==3.7.1`\n"
        "  |-> The build backend returned an error\n"
        "      ModuleNotFoundError: No module named 'pkg_resources'\n"
    )
    install = Install(requirements=["coverage<4.0", "pyyaml"])
    found = next_install(install, "install_failed", output, context(repo))
    assert found is not None and found[1].dropped == ["coverage"]
