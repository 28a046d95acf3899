"""Clone and push through the simulator's git smart HTTP, with the token kept off disk."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.errors import ConfigError
from bot.github import git
from bot.github.retrying import RetryConfig
from bot.testing.simulator import GitHubSimulator
from bot.testing.simulator.state import Installation

REPO = "octo/demo"
IDENTITY = ["-c", "user.name=Patchbot", "-c", "user.email=bot@example.invalid"]


async def commit_change(work: Path, text: str) -> str:
    (work / "calc.py").write_text(text, encoding="utf-8")
    await git.run_git([*IDENTITY, "commit", "-qam", "Fix add()"], cwd=work)
    return (await git.run_git(["rev-parse", "HEAD"], cwd=work)).strip()


def command_lines() -> list[bytes]:
    """The argv of every process on the machine, as `ps` would show them."""
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(cmdline.read_bytes())
        except OSError:
            continue
    return lines


def files_containing(root: Path, needles: list[bytes]) -> list[Path]:
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and any(needle in path.read_bytes() for needle in needles)
    ]


async def test_clone_and_push_with_token_leave_no_credential_on_disk(
    github: GitHubSimulator, installation: Installation, tmp_path: Path
) -> None:
    token = github.mint_token(installation.id).token
    work = tmp_path / "clone"

    await git.clone(github.git_url(REPO), work, token)
    head = await commit_change(work, "def add(a, b):\n    return a + b\n")
    await git.push(work, "patchbot/issue-1-add", token)

    assert await github.branch_sha(REPO, "patchbot/issue-1-add") == head
    assert await github.branch_sha(REPO, "main") != head
    basic = base64.b64encode(f"x-access-token:{token}".encode())
    assert files_containing(work, [token.encode(), basic]) == []
    config = (work / ".git" / "config").read_text()
    assert token not in config and "extraheader" not in config.lower()
    origin = urlsplit(await git.remote_url(work))
    assert origin.username is None and origin.password is None
    assert await git.remote_branch_sha(github.git_url(REPO), "patchbot/issue-1-add", token) == head


async def test_clone_of_a_given_branch_checks_it_out(
    github: GitHubSimulator, installation: Installation, tmp_path: Path
) -> None:
    token = github.mint_token(installation.id).token
    first = tmp_path / "first"
    await git.clone(github.git_url(REPO), first, token)
    pushed = await commit_change(first, "# changed\n")
    await git.push(first, "feature", token)

    second = tmp_path / "second"
    await git.clone(github.git_url(REPO), second, token, branch="feature", depth=1)

    assert (await git.run_git(["rev-parse", "HEAD"], cwd=second)).strip() == pushed


async def test_push_without_a_token_is_refused(
    github: GitHubSimulator, installation: Installation, tmp_path: Path
) -> None:
    token = github.mint_token(installation.id).token
    work = tmp_path / "clone"
    await git.clone(github.git_url(REPO), work, token)
    await commit_change(work, "# vandalism\n")

    with pytest.raises(git.GitError):
        await git.run_git(["push", "origin", "HEAD:refs/heads/sneaky"], cwd=work)

    assert await github.branch_sha(REPO, "sneaky") is None


async def test_expired_token_is_refused_and_kept_out_of_the_error(
    github: GitHubSimulator, installation: Installation, tmp_path: Path
) -> None:
    token = github.mint_token(installation.id, lifetime=-1).token

    with pytest.raises(git.GitError) as raised:
        await git.clone(github.git_url(REPO), tmp_path / "clone", token)

    assert token not in str(raised.value)
    assert "git clone" in str(raised.value)


async def test_private_repository_cannot_be_cloned_anonymously(
    github: GitHubSimulator, tmp_path: Path
) -> None:
    with pytest.raises(git.GitError):
        await git.clone(github.git_url(REPO), tmp_path / "clone", None)


async def test_token_of_another_installation_cannot_push(
    github: GitHubSimulator, installation: Installation, tmp_path: Path
) -> None:
    github.add_repo("other/elsewhere")
    outsider = github.add_installation("other", ["other/elsewhere"])
    work = tmp_path / "clone"
    await git.clone(github.git_url(REPO), work, github.mint_token(installation.id).token)
    await commit_change(work, "# change\n")

    with pytest.raises(git.GitError):
        await git.push(work, "intruder", github.mint_token(outsider.id).token)

    assert await github.branch_sha(REPO, "intruder") is None


def test_remote_url_with_credentials_is_refused_before_git_runs() -> None:
    with pytest.raises(ConfigError, match="carries credentials"):
        git.check_remote_url("https://x-access-token:ghs_secret@github.example/octo/demo.git")


async def test_token_never_appears_in_any_process_command_line(
    github: GitHubSimulator, installation: Installation, tmp_path: Path
) -> None:
    token = github.mint_token(installation.id).token
    github.faults.slow("/octo/demo.git/*", 0.5, times=2)  # keep git alive while we look
    seen: list[bytes] = []

    async def watch() -> None:
        while True:
            seen.extend(command_lines())
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch())
    try:
        await git.clone(github.git_url(REPO), tmp_path / "clone", token)
    finally:
        watcher.cancel()

    assert any(b"git-remote-http" in line or b"clone" in line for line in seen)
    encoded = base64.b64encode(f"x-access-token:{token}".encode())
    assert not [line for line in seen if token.encode() in line or encoded in line]


async def test_git_that_hangs_is_killed_at_the_timeout(
    github: GitHubSimulator, installation: Installation, tmp_path: Path
) -> None:
    token = github.mint_token(installation.id).token
    github.faults.slow("/octo/demo.git/*", 3.0)

    with pytest.raises(git.GitTimeout, match="longer than"):
        await git.clone(github.git_url(REPO), tmp_path / "clone", token, timeout=0.5)


QUICK = RetryConfig(backoff=0.05)


@pytest.mark.parametrize(
    ("pattern", "method"),
    [
        ("/octo/demo.git/info/refs", "GET"),
        ("/octo/demo.git/git-upload-pack", "POST"),
    ],
)
async def test_a_clone_survives_a_transient_502(
    github: GitHubSimulator, installation: Installation, tmp_path: Path, pattern: str, method: str
) -> None:
    token = github.mint_token(installation.id).token
    fault = github.faults.server_error(pattern, status=502, method=method)
    await git.clone(github.git_url(REPO), tmp_path / "clone", token, retry=QUICK)
    assert fault.hits == 1
    assert (tmp_path / "clone" / "calc.py").exists()


@pytest.mark.parametrize("lost", [False, True], ids=["refused", "landed, answer lost"])
async def test_a_push_survives_a_transient_502(
    github: GitHubSimulator, installation: Installation, tmp_path: Path, lost: bool
) -> None:
    token = github.mint_token(installation.id).token
    work = tmp_path / "clone"
    await git.clone(github.git_url(REPO), work, token)
    head = await commit_change(work, "def add(a, b):\n    return a + b\n")
    inject = github.faults.answer_lost if lost else github.faults.server_error
    fault = inject("/octo/demo.git/git-receive-pack", method="POST")
    await git.push(work, "patchbot/issue-1-add", token, retry=QUICK)
    assert fault.hits == 1
    assert await github.branch_sha(REPO, "patchbot/issue-1-add") == head


@pytest.mark.parametrize(
    ("status", "tries", "said"),
    [(503, 4, "503 (after 4 attempts)"), (403, 1, "403")],
    ids=["gives up after its attempts", "a refusal is not tried again"],
)
async def test_git_stops_trying_and_says_why(
    github: GitHubSimulator,
    installation: Installation,
    tmp_path: Path,
    status: int,
    tries: int,
    said: str,
) -> None:
    token = github.mint_token(installation.id).token
    github.faults.server_error("/octo/demo.git/info/refs", status=status, times=10)
    with pytest.raises(git.GitError) as raised:
        await git.clone(github.git_url(REPO), tmp_path / "clone", token, retry=QUICK)
    assert str(raised.value).endswith(said)
    assert len([r for r in github.requests if r.path.endswith("/info/refs")]) == tries
