"""Loading policy files: the shipped policies, and errors naming the file, line, key and fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.policy.load import (
    PolicyError,
    default_policy_path,
    effective_policy,
    load_policy_file,
)
from bot.policy.merge import at_least_as_tight
from bot.policy.model import Policy

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def write(tmp_path: Path, text: str, name: str = "policy.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def repo_with(tmp_path: Path, text: str) -> Path:
    (tmp_path / "repo" / ".github").mkdir(parents=True)
    (tmp_path / "repo" / ".github" / "patchbot.yml").write_text(text, encoding="utf-8")
    return tmp_path / "repo"


def problem_of(error: pytest.ExceptionInfo[PolicyError]):
    [problem] = error.value.problems
    return problem


def test_default_policy_file_spells_out_the_model_defaults():
    assert load_policy_file(POLICIES / "default.yml") == Policy()


def test_strict_policy_is_no_looser_than_the_default_anywhere():
    strict = load_policy_file(POLICIES / "strict.yml")
    assert at_least_as_tight(strict, Policy()) == []
    assert strict.sandbox.setup_network is False
    assert strict.autonomy.default in ("comment", "draft_pr")
    assert strict.budgets.cost_usd < Policy().budgets.cost_usd


def test_every_setting_has_a_docstring():
    def walk(model: type) -> list[str]:
        missing = []
        for name, field in model.model_fields.items():
            if not field.description:
                missing.append(f"{model.__name__}.{name}")
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                missing += walk(annotation)
        return missing

    assert walk(Policy) == []


def test_default_path_is_next_to_the_package_unless_the_environment_says(tmp_path):
    assert default_policy_path({}) == POLICIES / "default.yml"
    assert default_policy_path({"PATCHBOT_POLICY": str(tmp_path / "p.yml")}) == tmp_path / "p.yml"


def test_invalid_yaml_names_the_file_and_line(tmp_path):
    path = write(tmp_path, "budgets:\n  max_steps: 10\n  cost_usd: [1, 2\n\nsandbox: {}\n")
    with pytest.raises(PolicyError) as error:
        load_policy_file(path)
    problem = problem_of(error)
    assert problem.source == str(path)
    assert problem.line is not None and 3 <= problem.line <= 5
    assert "not valid YAML" in str(error.value) and "How to fix" in str(error.value)
    assert isinstance(error.value, ConfigError)


def test_unknown_key_names_its_line_and_the_known_keys(tmp_path):
    path = write(tmp_path, "trigger:\n  labels: [patchbot]\nbudgets:\n  max_step: 10\n")
    with pytest.raises(PolicyError) as error:
        load_policy_file(path)
    problem = problem_of(error)
    assert (problem.line, problem.key) == (4, "budgets.max_step")
    assert "max_steps" in problem.fix and "cost_usd" in problem.fix
    assert f"{path} line 4: `budgets.max_step`: is not a known key" in str(error.value)


def test_wrong_type_names_the_key_its_line_and_what_it_means(tmp_path):
    path = write(tmp_path, "sandbox:\n  image: python\n  setup_network: maybe\n")
    with pytest.raises(PolicyError) as error:
        load_policy_file(path)
    problem = problem_of(error)
    assert (problem.line, problem.key) == (3, "sandbox.setup_network")
    assert "'maybe'" in problem.message
    assert "network" in problem.fix


def test_every_problem_is_reported_at_once(tmp_path):
    path = write(tmp_path, "budgets:\n  max_steps: 0\n  cost_usd: cheap\ndiff:\n  max_file: 3\n")
    with pytest.raises(PolicyError) as error:
        load_policy_file(path)
    assert [(p.key, p.line) for p in error.value.problems] == [
        ("budgets.max_steps", 2),
        ("budgets.cost_usd", 3),
        ("diff.max_file", 5),
    ]


def test_a_value_out_of_its_list_is_refused(tmp_path):
    path = write(tmp_path, "autonomy:\n  default: push_to_main\n")
    with pytest.raises(PolicyError) as error:
        load_policy_file(path)
    assert problem_of(error).key == "autonomy.default"


def test_image_must_be_one_of_the_images(tmp_path):
    path = write(tmp_path, "sandbox:\n  images: [python]\n  image: node\n")
    with pytest.raises(PolicyError) as error:
        load_policy_file(path)
    assert problem_of(error).key == "sandbox"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "must be a mapping"),
        ("budgets: &b {max_steps: 3}\nother: *b\n", "alias"),
        ("budgets:\n  max_steps: 3\n  max_steps: 50\n", "given twice"),
        ("paths: " + "[" * 20000 + "]" * 20000 + "\n", "nests too deeply"),
    ],
)
def test_odd_files_are_refused_with_a_reason(tmp_path, text, message):
    with pytest.raises(PolicyError, match=message):
        load_policy_file(write(tmp_path, text))


def test_an_empty_file_is_the_default_policy(tmp_path):
    assert load_policy_file(write(tmp_path, "# nothing\n")) == Policy()


def test_a_missing_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(PolicyError, match="PATCHBOT_POLICY"):
        load_policy_file(tmp_path / "nope.yml")


def test_repository_file_errors_name_the_repository_file(tmp_path):
    repo = repo_with(tmp_path, "draft: true\nbudgets:\n  max_steps: many\n")
    with pytest.raises(PolicyError) as error:
        effective_policy(Policy(), repo)
    problem = problem_of(error)
    assert (problem.source, problem.line, problem.key) == (
        ".github/patchbot.yml",
        3,
        "budgets.max_steps",
    )


def test_repository_without_a_file_gets_the_server_policy(tmp_path):
    merged = effective_policy(Policy(), tmp_path)
    assert merged.policy == Policy() and merged.notes == []


def test_repository_file_reached_through_a_link_is_not_read(tmp_path):
    outside = write(tmp_path, "budgets:\n  max_steps: 1\n", "outside.yml")
    (tmp_path / "repo" / ".github").mkdir(parents=True)
    os.symlink(outside, tmp_path / "repo" / ".github" / "patchbot.yml")
    assert effective_policy(Policy(), tmp_path / "repo").policy == Policy()


def test_first_repo_config_spelling_of_setup_network_still_works(tmp_path):
    repo = repo_with(tmp_path, "draft: true\ntest_command: pytest -x\nsetup_network: false\n")
    policy = effective_policy(Policy(), repo).policy
    assert policy.draft is True
    assert policy.test_command == "pytest -x"
    assert policy.sandbox.setup_network is False
