"""Maintainers and other apps steering a pull request in the simulator: reviews with line
comments, replies, another app's failing check, pushes, closing and merging. Each helper
delivers signed webhooks whose objects are the ones the REST API answers with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import gidgethub
import pytest
from gidgethub import sansio
from gidgethub.abc import GitHubAPI

from bot.github.client import GitHubApp
from bot.testing.simulator import GitHubSimulator, WebhookReceiver
from bot.testing.simulator.gitrepo import git
from bot.testing.simulator.hunks import hunk_for_line
from bot.testing.simulator.state import Installation
from tests.github.simulator_conformance import assert_documented

SECRET = "webhook-secret-for-review-tests"
REPO = "octo/demo"
BRANCH = "patchbot/issue-1-add"
FIXED = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


@pytest.fixture
async def hooks(github: GitHubSimulator) -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver(SECRET) as receiver:
        github.send_webhooks_to(receiver.url, SECRET)
        yield receiver


@pytest.fixture
async def api(app: GitHubApp, installation: Installation) -> GitHubAPI:
    """Patchbot's installation client: requests are by `patchbot[bot]`."""
    return await app.installation_api(installation.id)


@pytest.fixture
async def pull(
    api: GitHubAPI, push_commit: Callable[[str, dict[str, str]], Awaitable[str]]
) -> dict[str, Any]:
    """Patchbot's pull request fixing calc.add(), as the REST API first answers it."""
    await push_commit(BRANCH, {"calc.py": FIXED})
    data = {"title": "Fix add()", "head": BRANCH, "base": "main", "body": "Fixes #1"}
    opened: dict[str, Any] = await api.post(f"/repos/{REPO}/pulls", data=data)
    return opened


def only(events: list[sansio.Event], name: str) -> list[dict[str, Any]]:
    return [event.data for event in events if event.event == name]


async def test_review_delivers_each_line_comment_then_the_review_as_rest_lists_them(
    github: GitHubSimulator,
    installation: Installation,
    hooks: WebhookReceiver,
    api: GitHubAPI,
    pull: dict[str, Any],
) -> None:
    number, head = pull["number"], pull["head"]["sha"]

    review, deliveries = await github.review_pull(
        REPO,
        number,
        by="maintainer",
        body="Close, but not yet.",
        comments=[("calc.py", 2, "Keep the docstring"), ("calc.py", 6, "sub() is untouched?")],
    )

    assert [(d.event, d.action, d.status) for d in deliveries] == [
        ("pull_request_review_comment", "created", 202),
        ("pull_request_review_comment", "created", 202),
        ("pull_request_review", "submitted", 202),
    ]
    assert [e.delivery_id for e in hooks.events] == [d.delivery_id for d in deliveries]
    listed = [c async for c in api.getiter(f"/repos/{REPO}/pulls/{number}/comments")]
    sent = [data["comment"] for data in only(hooks.events, "pull_request_review_comment")]
    assert [c["id"] for c in sent] == [c["id"] for c in listed]
    assert [(c["path"], c["line"], c["original_line"]) for c in sent] == [
        ("calc.py", 2, 2),
        ("calc.py", 6, 6),
    ]
    assert sent[0]["diff_hunk"].startswith("@@ -1,2 +1,6 @@")
    assert sent[0]["diff_hunk"].endswith("+    return a + b")
    assert sent[1]["diff_hunk"].endswith("+def sub(a, b):\n     return a - b")  # context line
    assert [c["position"] for c in sent] == [2, 6]
    assert {c["commit_id"] for c in sent} == {head}
    assert {c["pull_request_review_id"] for c in sent} == {review.id}
    assert all("in_reply_to_id" not in c for c in sent)

    [submitted] = only(hooks.events, "pull_request_review")
    assert submitted["review"]["state"] == "changes_requested"
    assert submitted["review"]["id"] == review.id
    assert submitted["review"]["commit_id"] == head
    assert submitted["pull_request"]["number"] == number
    assert submitted["pull_request"]["head"]["sha"] == head
    assert (submitted["sender"]["login"], submitted["installation"]["id"]) == (
        "maintainer",
        installation.id,
    )
    reviews = [r async for r in api.getiter(f"/repos/{REPO}/pulls/{number}/reviews")]
    assert [(r["id"], r["state"], r["body"], r["user"]["login"]) for r in reviews] == [
        (review.id, "CHANGES_REQUESTED", "Close, but not yet.", "maintainer")
    ]
    of_review = await api.getitem(f"/repos/{REPO}/pulls/{number}/reviews/{review.id}/comments")
    assert [c["id"] for c in of_review] == [c["id"] for c in sent]


async def test_comment_on_a_file_the_pull_does_not_change_is_refused(
    github: GitHubSimulator, hooks: WebhookReceiver, pull: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=r"README\.md"):
        await github.review_pull(
            REPO, pull["number"], by="maintainer", comments=[("README.md", 1, "?")]
        )

    assert github.repo(REPO).pulls[pull["number"]].reviews == []
    assert hooks.events == []


async def test_reply_is_by_the_app_bot_in_the_parent_thread_and_listed(
    github: GitHubSimulator, hooks: WebhookReceiver, api: GitHubAPI, pull: dict[str, Any]
) -> None:
    number = pull["number"]
    await github.review_pull(REPO, number, by="maintainer", comments=[("calc.py", 2, "Why?")])
    [parent] = [c async for c in api.getiter(f"/repos/{REPO}/pulls/{number}/comments")]

    replies = f"/repos/{REPO}/pulls/{number}/comments/{parent['id']}/replies"
    reply = await api.post(replies, data={"body": "Because add() must add."})
    again = await api.post(
        f"/repos/{REPO}/pulls/{number}/comments/{reply['id']}/replies", data={"body": "Done."}
    )

    assert reply["user"]["login"] == again["user"]["login"] == "patchbot[bot]"
    assert reply["in_reply_to_id"] == again["in_reply_to_id"] == parent["id"]
    same = ("path", "line", "original_line", "diff_hunk", "commit_id", "position")
    assert {k: reply[k] for k in same} == {k: parent[k] for k in same}
    listed = [c async for c in api.getiter(f"/repos/{REPO}/pulls/{number}/comments")]
    assert [(c["id"], c.get("in_reply_to_id")) for c in listed] == [
        (parent["id"], None),
        (reply["id"], parent["id"]),
        (again["id"], parent["id"]),
    ]
    assert_documented("GET /repos/{owner}/{repo}/pulls/{pull_number}/comments", listed)
    reviews = [r async for r in api.getiter(f"/repos/{REPO}/pulls/{number}/reviews")]
    assert [(r["user"]["login"], r["state"]) for r in reviews[1:]] == [
        ("patchbot[bot]", "COMMENTED"),
        ("patchbot[bot]", "COMMENTED"),
    ]
    with pytest.raises(gidgethub.BadRequest) as unknown:
        await api.post(f"/repos/{REPO}/pulls/{number}/comments/999999/replies", data={"body": "?"})
    assert unknown.value.status_code == 404
    assert len(hooks.events) == 2  # replies through REST deliver nothing


async def test_other_apps_failing_check_is_delivered_with_its_app_and_annotations(
    github: GitHubSimulator, hooks: WebhookReceiver, api: GitHubAPI, pull: dict[str, Any]
) -> None:
    number, head = pull["number"], pull["head"]["sha"]
    failure = {
        "path": "calc.py",
        "start_line": 5,
        "end_line": 6,
        "annotation_level": "failure",
        "message": "sub() has no test",
        "title": "coverage",
    }

    run, deliveries = await github.complete_check(
        REPO,
        head,
        name="ci / tests",
        summary="1 failed",
        text="E assert -1 == 3",
        annotations=[failure],
    )

    assert [(d.event, d.action, d.status) for d in deliveries] == [
        ("check_run", "completed", 202),
        ("check_suite", "completed", 202),
    ]
    ci = github.state.other_app("ci")
    assert ci.id != github.app_id and ci.bot.login == "ci[bot]"
    [run_event] = only(hooks.events, "check_run")
    sent = run_event["check_run"]
    assert (sent["id"], sent["head_sha"], sent["conclusion"]) == (run.id, head, "failure")
    assert (sent["app"]["id"], sent["app"]["slug"]) == (ci.id, "ci")
    assert [p["number"] for p in sent["pull_requests"]] == [number]
    assert sent["output"]["annotations_count"] == 1
    assert run_event["sender"]["login"] == "ci[bot]"
    assert "installation" in run_event

    [suite_event] = only(hooks.events, "check_suite")
    suite = suite_event["check_suite"]
    assert suite["id"] == sent["check_suite"]["id"]
    assert (suite["app"]["id"], suite["head_sha"], suite["head_branch"]) == (ci.id, head, BRANCH)
    assert (suite["status"], suite["conclusion"]) == ("completed", "failure")
    assert [p["number"] for p in suite["pull_requests"]] == [number]

    fetched = await api.getitem(f"/repos/{REPO}/check-runs/{run.id}")
    assert {k: fetched[k] for k in ("id", "app", "output", "pull_requests")} == {
        k: sent[k] for k in ("id", "app", "output", "pull_requests")
    }
    assert_documented("GET /repos/{owner}/{repo}/check-runs/{check_run_id}", fetched)
    annotations = [a async for a in api.getiter(fetched["output"]["annotations_url"])]
    assert [(a["path"], a["start_line"], a["end_line"], a["message"]) for a in annotations] == [
        ("calc.py", 5, 6, "sub() has no test")
    ]
    assert annotations[0]["blob_href"].endswith(f"/blob/{head}/calc.py")
    for_ref = await api.getitem(f"/repos/{REPO}/commits/{head}/check-runs")
    assert [r["app"]["slug"] for r in for_ref["check_runs"]] == ["ci"]
    with pytest.raises(gidgethub.BadRequest, match="only be modified by the GitHub App"):
        await api.patch(f"/repos/{REPO}/check-runs/{run.id}", data={"conclusion": "success"})


async def test_second_check_of_the_same_app_joins_its_suite(
    github: GitHubSimulator, hooks: WebhookReceiver, pull: dict[str, Any]
) -> None:
    head = pull["head"]["sha"]
    first, _ = await github.complete_check(
        REPO, head, name="lint", conclusion="success", summary="ok"
    )
    second, _ = await github.complete_check(REPO, head, name="tests", summary="1 failed")

    assert first.check_suite_id == second.check_suite_id
    suite = only(hooks.events, "check_suite")[-1]["check_suite"]
    assert (suite["latest_check_runs_count"], suite["conclusion"]) == (2, "failure")


async def test_merging_moves_the_base_and_marks_the_pull_merged(
    github: GitHubSimulator, hooks: WebhookReceiver, api: GitHubAPI, pull: dict[str, Any]
) -> None:
    number = pull["number"]

    delivery = await github.close_pull(REPO, number, by="maintainer", merge=True)

    assert (delivery.event, delivery.action, delivery.status) == ("pull_request", "closed", 202)
    [event] = hooks.events
    merged = event.data["pull_request"]
    main = await github.branch_sha(REPO, "main")
    assert (merged["state"], merged["merged"], merged["merged_by"]["login"]) == (
        "closed",
        True,
        "maintainer",
    )
    assert merged["merge_commit_sha"] == main
    assert event.data["number"] == number
    fetched = await api.getitem(f"/repos/{REPO}/pulls/{number}")
    assert (fetched["merged"], fetched["merged_at"]) == (True, merged["merged_at"])
    assert_documented("GET /repos/{owner}/{repo}/pulls/{pull_number}", fetched)
    issue = await api.getitem(f"/repos/{REPO}/issues/{number}")
    assert issue["pull_request"]["merged_at"] == merged["merged_at"]
    assert_documented("GET /repos/{owner}/{repo}/issues/{issue_number}", issue)
    assert await git(github.repo(REPO).path, "show", "main:calc.py") == FIXED.encode()
    with pytest.raises(ValueError, match="already closed"):
        await github.close_pull(REPO, number, by="maintainer")


async def test_closing_without_merging_leaves_the_base(
    github: GitHubSimulator, hooks: WebhookReceiver, api: GitHubAPI, pull: dict[str, Any]
) -> None:
    main = await github.branch_sha(REPO, "main")

    await github.close_pull(REPO, pull["number"], by="maintainer")

    [event] = hooks.events
    assert (event.data["pull_request"]["state"], event.data["pull_request"]["merged"]) == (
        "closed",
        False,
    )
    assert event.data["pull_request"]["merged_at"] is None
    assert await github.branch_sha(REPO, "main") == main
    open_pulls = await api.getitem(f"/repos/{REPO}/pulls")
    assert open_pulls == []


async def test_human_push_moves_the_pull_head_and_delivers_synchronize(
    github: GitHubSimulator, hooks: WebhookReceiver, api: GitHubAPI, pull: dict[str, Any]
) -> None:
    before = pull["head"]["sha"]

    sha = await github.push_commit(
        REPO, BRANCH, {"calc.py": FIXED + "# reviewed\n"}, by="maintainer", message="Tweak"
    )

    [event] = hooks.events
    assert (event.event, event.data["action"]) == ("pull_request", "synchronize")
    assert (event.data["before"], event.data["after"]) == (before, sha)
    assert event.data["pull_request"]["head"]["sha"] == sha
    assert event.data["sender"]["login"] == "maintainer"
    fetched = await api.getitem(f"/repos/{REPO}/pulls/{pull['number']}")
    assert fetched["head"]["sha"] == sha
    maintainer = github.state.user("maintainer")
    who = await git(github.repo(REPO).path, "show", "-s", "--format=%an <%ae>|%cn <%ce>|%P", sha)
    email = f"{maintainer.id}+maintainer@users.noreply.github.com"
    assert who.decode().strip() == f"maintainer <{email}>|maintainer <{email}>|{before}"
    assert (
        await git(github.repo(REPO).path, "show", f"{sha}:calc.py")
        == (FIXED + "# reviewed\n").encode()
    )


async def test_push_to_a_branch_without_a_pull_delivers_nothing(
    github: GitHubSimulator, hooks: WebhookReceiver
) -> None:
    sha = await github.push_commit(REPO, "main", {"NOTES.md": "hi\n"}, by="maintainer", message="x")

    assert await github.branch_sha(REPO, "main") == sha
    assert hooks.events == []


DIFF = """diff --git a/m.py b/m.py
--- a/m.py
+++ b/m.py
@@ -1,3 +1,3 @@
 a
-b
+B
 c
@@ -10,2 +10,3 @@ def f():
 j
+k
 l
"""


def test_hunk_runs_from_its_header_to_the_line_and_position_counts_across_hunks() -> None:
    assert hunk_for_line(DIFF, 2) == ("@@ -1,3 +1,3 @@\n a\n-b\n+B", 3)
    assert hunk_for_line(DIFF, 11) == ("@@ -10,2 +10,3 @@ def f():\n j\n+k", 7)


def test_line_outside_every_hunk_gets_the_first_hunk() -> None:
    assert hunk_for_line(DIFF, 40) == ("@@ -1,3 +1,3 @@\n a\n-b\n+B\n c", 4)
