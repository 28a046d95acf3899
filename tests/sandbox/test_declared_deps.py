"""Dependencies read from Poetry, Pipfile and setup.py, without running any repository code."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.setup.declared_deps import TEST_GROUPS, _poetry_version, read_project


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def declared(root: Path) -> list[str]:
    return read_project(root).requirements(set(TEST_GROUPS))


@pytest.mark.parametrize(
    ("poetry", "pep440"),
    [
        ("^1.2.3", ">=1.2.3,<2.0.0"),
        ("^0.2.3", ">=0.2.3,<0.3.0"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("^2", ">=2,<3"),
        ("~1.2.3", ">=1.2.3,<1.3.0"),
        ("~1", ">=1,<2"),
        ("~=1.4", "~=1.4"),
        ("1.2.3", "==1.2.3"),
        ("*", ""),
        (">= 1.0, < 2.0", ">=1.0,<2.0"),
        ("^1.0 || ^2.0", None),
    ],
)
def test_poetry_constraints_become_pep_440(poetry: str, pep440: str | None) -> None:
    assert _poetry_version(poetry) == pep440


def test_poetry_dependencies_and_test_groups_are_read(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": """
[tool.poetry]
name = "poems"
[tool.poetry.dependencies]
python = "^3.9"
requests = {version = "^2.28", extras = ["socks"]}
attrs = "*"
local-lib = {path = "../lib", develop = true}
maybe = {version = "^1", optional = true}
edge = {git = "https://127.0.0.1/edge.git", tag = "v1"}
[tool.poetry.group.test.dependencies]
pytest-mock = "~3.10"
[tool.poetry.group.docs.dependencies]
sphinx = "*"
[tool.poetry.dev-dependencies]
black = "23.1.0"
"""
        },
    )
    assert declared(tmp_path) == [
        "requests[socks]>=2.28,<3.0",
        "attrs",
        "edge @ git+https://127.0.0.1/edge.git@v1",
        "black==23.1.0",
        "pytest-mock>=3.10,<3.11",
    ]


def test_pipfile_packages_and_dev_packages_are_read(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "Pipfile": """
[packages]
flask = "==2.3.0"
itsdangerous = "*"
me = {path = ".", editable = true}
[dev-packages]
pytest = ">=7"
"""
        },
    )
    assert declared(tmp_path) == ["flask==2.3.0", "itsdangerous", "pytest>=7"]


def test_setup_py_literal_arguments_are_read_without_running_it(tmp_path: Path) -> None:
    canary = tmp_path / "ran"
    write(
        tmp_path / "repo",
        {
            "setup.py": f"""
import pathlib
from setuptools import setup
pathlib.Path({str(canary)!r}).write_text("setup.py was executed")
REQUIRES = open("requirements.in").read().split()
setup(
    name="legacy",
    install_requires=["six>=1.16", "legacy[speed]"],
    extras_require={{"speed": ["ujson"], "test": ("hypothesis",), "docs": ["sphinx"]}},
    tests_require=REQUIRES,
)
"""
        },
    )
    assert declared(tmp_path / "repo") == ["six>=1.16", "hypothesis", "ujson"]
    assert not canary.exists()


def test_broken_files_declare_nothing(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "setup.py": "setup(install_requires=[" * 10000,
            "setup.cfg": "[options\ninstall_requires = x",
            "Pipfile": "[packages",
            "pyproject.toml": '[project]\ndependencies = "not a list"\n',
        },
    )
    assert declared(tmp_path) == []
