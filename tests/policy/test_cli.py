"""`patchbot policy check` as a user runs it: a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "PATCHBOT_POLICY"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", "policy", "check", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_default_policy_is_printed_as_yaml():
    done = check()
    assert done.returncode == 0, done.stderr
    printed = yaml.safe_load(done.stdout)
    assert printed["sandbox"]["setup_network"] is True
    assert ".github/workflows/**" in printed["paths"]["approve"]
    assert "policies/default.yml" in done.stdout.splitlines()[0]


def test_policy_from_the_environment_or_the_option(tmp_path):
    strict = str(ROOT / "policies" / "strict.yml")
    from_env = check(env={"PATCHBOT_POLICY": strict})
    from_option = check("--policy", strict)
    assert from_env.returncode == from_option.returncode == 0
    assert yaml.safe_load(from_env.stdout)["sandbox"]["setup_network"] is False
    assert from_env.stdout == from_option.stdout


def test_repository_file_is_merged_and_refusals_are_listed(tmp_path):
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "patchbot.yml").write_text(
        "draft: true\nbudgets:\n  cost_usd: 0.5\n  max_steps: 400\nsecrets:\n  scan: false\n"
    )
    done = check("--repo", str(tmp_path))
    assert done.returncode == 0, done.stderr
    printed = yaml.safe_load(done.stdout)
    assert printed["draft"] is True
    assert printed["budgets"]["cost_usd"] == 0.5
    assert printed["budgets"]["max_steps"] == 40
    assert printed["secrets"]["scan"] is True
    refused = [line for line in done.stdout.splitlines() if line.startswith("# refused:")]
    assert len(refused) == 2
    assert "`budgets.max_steps`" in refused[0] and "`secrets.scan`" in refused[1]


def test_broken_files_exit_2_with_file_line_and_key(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("budgets:\n  cost_usd: lots\n")
    done = check("--policy", str(bad))
    assert done.returncode == 2 and done.stdout == ""
    assert f"{bad} line 2: `budgets.cost_usd`" in done.stderr

    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "patchbot.yml").write_text("sandbox:\n  setup_network: [\n")
    done = check("--repo", str(tmp_path))
    assert done.returncode == 2
    assert ".github/patchbot.yml line" in done.stderr and "not valid YAML" in done.stderr


def test_a_missing_repository_folder_exits_2(tmp_path):
    done = check("--repo", str(tmp_path / "nope"))
    assert done.returncode == 2 and "--repo" in done.stderr
