"""The interpreter: the default image unless the commit's Python versions call for another."""

from __future__ import annotations

from packaging.specifiers import SpecifierSet

from bot.setup.interpreter import choose_python, declared_pythons

from .conftest import WriteRepo

IMAGES = {"python": "3.11", "python3.9": "3.9", "python3.13": "3.13"}


def test_a_current_project_keeps_the_default_image() -> None:
    assert choose_python(IMAGES, "python", SpecifierSet(">=3.10"), ["3.10", "3.14"]) == "python"
    assert choose_python(IMAGES, "python", SpecifierSet(), []) == "python"


def test_an_old_commit_gets_the_newest_python_it_names_or_the_closest() -> None:
    assert choose_python(IMAGES, "python", SpecifierSet(">=3.6"), ["3.6", "3.9"]) == "python3.9"
    assert choose_python(IMAGES, "python", SpecifierSet(), ["2.7", "3.4"]) == "python3.9"


def test_requires_python_rules_out_the_default() -> None:
    assert choose_python(IMAGES, "python", SpecifierSet(">=3.12"), []) == "python3.13"
    assert choose_python(IMAGES, "python", SpecifierSet("<3"), ["2.7"]) == "python"  # none fits


def test_versions_are_read_from_metadata_classifiers_and_tox(write_repo: WriteRepo) -> None:
    setup = (
        "from setuptools import setup\nsetup(python_requires='>=3.5', classifiers=["
        "'Programming Language :: Python :: 3.5', 'Programming Language :: Python :: 3.7'])\n"
    )
    repo = write_repo({"setup.py": setup, "tox.ini": "[tox]\nenvlist = py36,py38\n"})
    allowed, named = declared_pythons(repo, ["3.6"])
    assert str(allowed) == ">=3.5"
    assert named == ["3.5", "3.6", "3.7", "3.8"]
