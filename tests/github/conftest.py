"""A running GitHub simulator with one installed repository, and clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.github import git
from bot.github.client import GitHubApp, GitHubClientConfig, PatchbotGitHubAPI
from bot.github.retrying import RetryConfig
from bot.testing.simulator import GitHubSimulator
from bot.testing.simulator.state import Installation

REPO = "octo/demo"
FILES = {
    "README.md": "# demo\n",
    "calc.py": "def add(a, b):\n    return a - b\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}


@pytest.fixture
async def github(tmp_path: Path, app_private_key: str) -> AsyncIterator[GitHubSimulator]:
    async with GitHubSimulator(tmp_path / "github", private_key_pem=app_private_key) as simulator:
        simulator.add_repo(REPO, files=FILES)
        simulator.add_installation("octo", [REPO], installation_id=7)
        simulator.add_collaborator(REPO, "maintainer", "maintain")
        simulator.add_issue(REPO, "add() subtracts", "calc.add(1, 2) gives -1", author="alice")
        yield simulator


@pytest.fixture
def installation(github: GitHubSimulator) -> Installation:
    return github.state.installations[7]


class SleepRecorder(PatchbotGitHubAPI):
    """The real client, except that waits are recorded instead of slept."""

    slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        type(self).slept.append(seconds)


def client_config(github: GitHubSimulator, **retry: float) -> GitHubClientConfig:
    return GitHubClientConfig(
        api_url=github.api_url,
        app_id=github.app_id,
        private_key=SecretStr(github.private_key_pem),
        request_timeout=5.0,
        retry=RetryConfig(**retry),
    )


@pytest.fixture
def slept() -> list[float]:
    """The waits between retries of clients from `app` and `make_app`, in seconds."""
    SleepRecorder.slept = []
    return SleepRecorder.slept


@pytest.fixture
async def make_app(
    github: GitHubSimulator, slept: list[float]
) -> AsyncIterator[Callable[..., GitHubApp]]:
    """Builds the app's client with the given RetryConfig fields (and request timeout)."""
    made: list[GitHubApp] = []

    def make(request_timeout: float = 5.0, **retry: float) -> GitHubApp:
        config = client_config(github, **retry).model_copy(
            update={"request_timeout": request_timeout}
        )
        made.append(GitHubApp(config, api_class=SleepRecorder))
        return made[-1]

    yield make
    for client in made:
        await client.close()


@pytest.fixture
def app(make_app: Callable[..., GitHubApp]) -> GitHubApp:
    """The app's client with default retry bounds; waits are recorded in `slept`."""
    return make_app()


@pytest.fixture
def push_commit(
    github: GitHubSimulator, installation: Installation, tmp_path: Path
) -> Callable[[str, dict[str, str]], Awaitable[str]]:
    """Commits `files` on top of the default branch and pushes them to `branch`; returns the
    new commit's sha."""

    async def push(branch: str, files: dict[str, str]) -> str:
        token = github.mint_token(installation.id).token
        work = tmp_path / f"push-{branch.replace('/', '-')}"
        await git.clone(github.git_url(REPO), work, token)
        for name, text in files.items():
            (work / name).write_text(text, encoding="utf-8")
        identity = ["-c", "user.name=Dev", "-c", "user.email=dev@example.invalid"]
        await git.run_git(["add", "--all"], cwd=work)
        await git.run_git([*identity, "commit", "-q", "-m", f"Change on {branch}"], cwd=work)
        await git.push(work, branch, token)
        return (await git.run_git(["rev-parse", "HEAD"], cwd=work)).strip()

    return push
