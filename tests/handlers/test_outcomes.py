"""What became of Patchbot's pull requests, recorded from the simulator's webhooks through the
real webhook server, on SQLite and PostgreSQL: merged and by whom, closed, CI on the first
push, people's pushes, a revert of the merge commit; and filled in from the REST API when the
deliveries were missed."""

from __future__ import annotations

import json
from typing import Any

from pydantic import SecretStr

from bot.github.app import github_app
from bot.handlers.reconcile import reconcile_outcomes
from bot.runs.models import NewRun, PullOpened, PullOutcome
from bot.runs.store import RunStore
from bot.settings import Settings
from bot.testing.simulator import GitHubSimulator, WebhookReceiver, gitcommits, gitrepo
from bot.testing.simulator.state import Pull
from tests.simulated import INSTALLATION, ISSUE, REPO_NAME
from tests.stores import Intake

BRANCH = f"patchbot/issue-{ISSUE}-fix-hello"


async def opened(github: GitHubSimulator, store: RunStore, branch: str = BRANCH) -> PullOpened:
    """Patchbot's first run pushes `branch` and opens its pull request, as the pipeline does."""
    run, _ = await store.create_run(
        NewRun(
            repository=REPO_NAME,
            issue=ISSUE,
            requester="alice",
            trigger="label",
            installation_id=INSTALLATION,
        )
    )
    repo = github.repo(REPO_NAME)
    main = await gitrepo.ref_sha(repo.path, "main")
    assert main is not None
    bot = github.state.app.bot
    files = {f"{branch}.txt": "Hello\n"}
    sha = await gitcommits.commit_files(repo.path, main, files, by=bot, message="Fix")
    await gitrepo.update_ref(repo.path, f"refs/heads/{branch}", sha)
    pull = Pull(
        number=repo.next_number(),
        id=github.state.new_id(),
        title="Fix the greeting",
        body=f"Fixes #{ISSUE}",
        user=bot,
        head=branch,
        base="main",
    )
    repo.pulls[pull.number] = pull
    made = PullOpened(number=pull.number, branch=branch, head_sha=sha)
    url = f"https://github.example/{REPO_NAME}/pull/{pull.number}"
    await store.record_pull_request(run.id, url, made)
    await store.cancel_run(run.id)  # the next pull request's run may start
    return made


async def outcome(store: RunStore, number: int) -> PullOutcome:
    (found,) = [o for o in await store.pull_outcomes() if o.pull_request == number]
    return found


def status(github: GitHubSimulator, sha: str, state: str, by: str = "ci-service") -> dict[str, Any]:
    """A `status` event (hand-made: the simulator's statuses are Patchbot's own)."""
    repo = github.repo(REPO_NAME)
    return {
        "sha": sha,
        "state": state,
        "context": "ci/legacy",
        "repository": {
            "id": repo.id,
            "name": repo.name,
            "full_name": REPO_NAME,
            "owner": {"login": "octo", "id": 1},
            "default_branch": "main",
        },
        "sender": {"login": by, "id": 99},
        "installation": {"id": INSTALLATION},
    }


async def test_a_merged_pull_request_records_ci_pushes_merge_and_revert(intake: Intake) -> None:
    github, store = intake.github, intake.store
    made = await opened(github, store)
    first = await outcome(store, made.number)
    assert (first.state, first.run_id, first.installation_id) == ("open", 1, INSTALLATION)
    assert first.first_head_sha == made.head_sha and first.ci_first_push is None

    await github.complete_check(
        REPO_NAME, made.head_sha, name="ci", conclusion="success", summary="ok"
    )
    await intake.settle()
    assert (await outcome(store, made.number)).ci_first_push == "pass"
    await intake.post("status", status(github, made.head_sha, "failure"))
    await intake.settle()
    await intake.post("status", status(github, made.head_sha, "success"))
    await intake.settle()
    assert (await outcome(store, made.number)).ci_first_push == "fail"  # one failure is enough

    pushed = await github.push_commit(
        REPO_NAME, BRANCH, {"NOTES.md": "x\n"}, by="alice", message="Tweak"
    )
    await intake.settle()
    (synchronize,) = [d for d in github.deliveries if d.event == "pull_request"]
    stored = await store.get_delivery(synchronize.delivery_id)
    assert stored is not None  # a redelivery of the same push counts nothing
    await intake.post("pull_request", json.loads(stored.payload))
    await intake.settle()
    assert (await outcome(store, made.number)).human_pushes == 1

    await github.close_pull(REPO_NAME, made.number, by="maintainer", merge=True)
    await intake.settle()
    merged = await outcome(store, made.number)
    assert (merged.state, merged.merged_by, merged.closed_by) == (
        "merged",
        "maintainer",
        "maintainer",
    )
    assert merged.merged_at is not None and merged.merge_commit_sha not in (None, pushed)

    message = f'Revert "Fix the greeting"\n\nThis reverts commit {merged.merge_commit_sha}.'
    revert, _ = await github.push_to_branch(
        REPO_NAME, "main", {"undo.txt": "-\n"}, by="maintainer", message=message
    )
    await intake.settle()
    reverted = await outcome(store, made.number)
    assert reverted.reverted_at is not None and reverted.revert_sha == revert
    assert not [d for d in await store.list_deliveries(failed=True)]


async def test_closed_unmerged_and_patchbots_own_pushes_and_checks_count_nothing(
    intake: Intake,
) -> None:
    github, store = intake.github, intake.store
    made = await opened(github, store)
    await github.push_commit(
        REPO_NAME, BRANCH, {"again.txt": "y\n"}, by=github.state.app.bot.login, message="Revise"
    )
    await intake.post("status", status(github, made.head_sha, "failure", by="patchbot[bot]"))
    await github.complete_check(
        REPO_NAME, made.head_sha, name="ci", conclusion="neutral", summary="skipped"
    )
    await github.close_pull(REPO_NAME, made.number, by="alice")
    await intake.settle()
    closed = await outcome(store, made.number)
    assert (closed.state, closed.closed_by, closed.merged_at) == ("closed", "alice", None)
    assert closed.human_pushes == 0 and closed.ci_first_push is None

    await github.reopen_pull(REPO_NAME, made.number, by="alice")
    await intake.settle()
    reopened = await outcome(store, made.number)
    assert (reopened.state, reopened.closed_at, reopened.closed_by) == ("open", None, None)


async def test_reconcile_records_what_missed_deliveries_said(
    store: RunStore, github: GitHubSimulator, settings: Settings
) -> None:
    made = await opened(github, store)
    other = await opened(github, store, f"patchbot/issue-{ISSUE}-second")
    async with WebhookReceiver("nobody-listening") as missed:
        github.send_webhooks_to(missed.url, "nobody-listening")
        await github.complete_check(
            REPO_NAME, made.head_sha, name="ci", conclusion="failure", summary="1 failed"
        )
        await github.close_pull(REPO_NAME, made.number, by="alice", merge=True)
    assert len(missed.events) == 3  # check_run, check_suite, pull_request: none reached us
    live = settings.model_copy(
        update={
            "github_api_url": github.api_url,
            "app_id": github.app_id,
            "private_key": SecretStr(github.private_key_pem),
        }
    )
    async with github_app(live) as app:
        changed = await reconcile_outcomes(store, app.installation_api, live)
    assert [o.pull_request for o in changed] == [made.number]
    merged = await outcome(store, made.number)
    assert (merged.state, merged.merged_by, merged.ci_first_push) == ("merged", "alice", "fail")
    assert merged.merge_commit_sha == github.repo(REPO_NAME).pulls[made.number].merge_commit_sha
    assert (await outcome(store, other.number)).state == "open"


async def test_a_push_to_another_branch_than_the_default_is_not_stored(intake: Intake) -> None:
    github, store = intake.github, intake.store
    made = await opened(github, store)
    _, elsewhere = await github.push_to_branch(
        REPO_NAME, made.branch, {"f.txt": "1\n"}, by="alice", message="Work"
    )
    _, default = await github.push_to_branch(
        REPO_NAME, "main", {"g.txt": "1\n"}, by="alice", message="Land"
    )
    await intake.settle()
    assert await store.get_delivery(elsewhere.delivery_id) is None
    assert await store.get_delivery(default.delivery_id) is not None
