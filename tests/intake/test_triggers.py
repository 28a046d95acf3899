"""Who may start and stop work, through signed deliveries to the running app."""

from __future__ import annotations

from typing import Any

from bot.runs.models import RunState

INSTALLATION = 42
COMMENTS = "/repos/Codertocat/Hello-World/issues/1/comments"
FIXTURE_COMMENT = 492700400
"""The id of the fixture's comment; each comment a test makes needs an id of its own."""


def reactions(comment_id: int = FIXTURE_COMMENT) -> str:
    return f"/repos/Codertocat/Hello-World/issues/comments/{comment_id}/reactions"


REACTIONS = reactions()


def labeled(login: str = "alice", label: str = "patchbot", kind: str = "User") -> dict[str, Any]:
    return {
        "installation": {"id": INSTALLATION},
        "label": {"name": label},
        "sender": {"login": login, "type": kind},
    }


def commented(
    body: str, login: str = "alice", kind: str = "User", comment_id: int = FIXTURE_COMMENT
) -> dict[str, Any]:
    return {
        "installation": {"id": INSTALLATION},
        "comment": {"id": comment_id, "body": body, "user": {"login": login, "type": kind}},
        "sender": {"login": login, "type": kind},
    }


async def comment_on(
    intake: Any, body: str, login: str = "alice", comment_id: int = FIXTURE_COMMENT, **kwargs: Any
) -> None:
    payload = commented(body, login, comment_id=comment_id)
    response = await intake.send("issue_comment", "created", payload, **kwargs)
    assert response.status == 200
    await intake.settle()


async def test_trigger_label_from_a_writer_queues_a_run_and_says_so(intake: Any) -> None:
    intake.allow("alice", "write")
    intake.gh.reply("POST", COMMENTS, status=201)
    await intake.send("issues", "labeled", labeled())
    await intake.settle()
    [run] = await intake.store.list_runs()
    assert (run.repository, run.issue, run.requester, run.trigger) == (
        "Codertocat/Hello-World",
        1,
        "alice",
        "label",
    )
    assert run.installation_id == INSTALLATION and run.state is RunState.QUEUED
    [posted] = intake.gh.calls_to("POST", COMMENTS)
    assert f"run #{run.id}" in posted.body["body"] and "<!-- patchbot:" in posted.body["body"]


async def test_label_is_matched_case_insensitively_and_others_are_ignored(intake: Any) -> None:
    await intake.send("issues", "labeled", labeled(label="bug"))
    await intake.settle()
    assert intake.gh.calls == [] and await intake.store.list_runs() == []
    intake.allow("alice", "admin")
    intake.gh.reply("POST", COMMENTS, status=201)
    await intake.send("issues", "labeled", labeled(label="PatchBot"))
    await intake.settle()
    assert len(await intake.store.list_runs()) == 1


async def test_fix_comment_queues_a_run_with_its_instructions_and_reacts(intake: Any) -> None:
    intake.allow("alice", "maintain")
    intake.gh.reply("POST", REACTIONS, status=201, body={"content": "eyes"})
    await comment_on(intake, "Looks easy.\n/patchbot fix keep the old name as an alias")
    [run] = await intake.store.list_runs()
    assert run.trigger == "comment" and run.instructions == "keep the old name as an alias"
    [reaction] = intake.gh.calls_to("POST", REACTIONS)
    assert reaction.body == {"content": "eyes"}
    assert intake.gh.calls_to("POST", COMMENTS) == []


async def test_comment_from_reader_is_refused(intake: Any) -> None:
    intake.allow("mallory", "read")
    intake.gh.reply("POST", COMMENTS, status=201)
    await comment_on(intake, "/patchbot fix", login="mallory")
    assert await intake.store.list_runs() == []
    [reply] = intake.gh.calls_to("POST", COMMENTS)
    assert "@mallory" in reply.body["body"] and "**write**" in reply.body["body"]
    assert intake.gh.calls_to("POST", REACTIONS) == []


async def test_stranger_who_is_not_a_collaborator_is_refused(intake: Any) -> None:
    intake.gh.reply(
        "GET",
        "/repos/Codertocat/Hello-World/collaborators/stranger/permission",
        status=404,
        body={"message": "Not Found"},
    )
    intake.gh.reply("POST", COMMENTS, status=201)
    await comment_on(intake, "/patchbot fix", login="stranger")
    assert await intake.store.list_runs() == []
    assert len(intake.gh.calls_to("POST", COMMENTS)) == 1


async def test_bots_own_comment_does_nothing(intake: Any) -> None:
    await comment_on(intake, "/patchbot fix", login="patchbot[bot]")
    response = await intake.send(
        "issue_comment", "created", commented("/patchbot fix", "dependabot", kind="Bot")
    )
    assert response.status == 200
    await intake.settle()
    await intake.send("issues", "labeled", labeled(login="patchbot[bot]", kind="Bot"))
    await intake.settle()
    assert intake.gh.calls == []
    assert await intake.store.list_runs() == []


async def test_comment_quoting_patchbot_is_not_acted_on(intake: Any) -> None:
    await comment_on(intake, "<!-- patchbot:help -->\n/patchbot fix")
    assert intake.gh.calls == []


async def test_ordinary_comment_does_nothing(intake: Any) -> None:
    await comment_on(intake, "I can reproduce this; /patchbot fix would be nice")
    assert intake.gh.calls == []


async def test_second_trigger_while_a_run_is_active_is_refused(intake: Any) -> None:
    intake.allow("alice", "write")
    intake.gh.reply("POST", REACTIONS, status=201)
    intake.gh.reply("POST", COMMENTS, status=201)
    await comment_on(intake, "/patchbot fix")
    await comment_on(intake, "/patchbot fix now please", comment_id=2)
    [run] = await intake.store.list_runs()
    [reply] = intake.gh.calls_to("POST", COMMENTS)
    assert f"run #{run.id} is already queued" in reply.body["body"]


async def test_stop_cancels_the_queued_run(intake: Any) -> None:
    intake.allow("alice", "write")
    for comment_id in (FIXTURE_COMMENT, 2, 3):
        intake.gh.reply("POST", reactions(comment_id), status=201)
    intake.gh.reply("POST", COMMENTS, status=201)
    await comment_on(intake, "/patchbot fix")
    await comment_on(intake, "/patchbot stop", comment_id=2)
    [run] = await intake.store.list_runs()
    assert run.state is RunState.CANCELLED
    [reply] = intake.gh.calls_to("POST", COMMENTS)
    assert f"run #{run.id}" in reply.body["body"]
    # With the run stopped, the issue can be worked on again.
    await comment_on(intake, "/patchbot fix", comment_id=3)
    assert len(await intake.store.list_runs()) == 2


async def test_stop_from_a_reader_is_refused(intake: Any) -> None:
    intake.allow("alice", "write")
    intake.allow("mallory", "triage")
    intake.gh.reply("POST", REACTIONS, status=201)
    intake.gh.reply("POST", COMMENTS, status=201)
    await comment_on(intake, "/patchbot fix")
    await comment_on(intake, "/patchbot stop", login="mallory", comment_id=2)
    [run] = await intake.store.list_runs()
    assert run.state is RunState.QUEUED


async def test_retry_reuses_the_last_instructions(intake: Any) -> None:
    intake.allow("alice", "write")
    for comment_id in (FIXTURE_COMMENT, 2, 3):
        intake.gh.reply("POST", reactions(comment_id), status=201)
    intake.gh.reply("POST", COMMENTS, status=201)
    await comment_on(intake, "/patchbot fix mind the docs")
    await comment_on(intake, "/patchbot stop", comment_id=2)
    await comment_on(intake, "/patchbot retry", comment_id=3)
    latest = (await intake.store.list_runs())[0]
    assert latest.trigger == "retry" and latest.instructions == "mind the docs"


async def test_help_is_answered_for_anyone(intake: Any) -> None:
    intake.gh.reply("POST", COMMENTS, status=201)
    await comment_on(intake, "/patchbot help", login="mallory")
    [reply] = intake.gh.calls_to("POST", COMMENTS)
    assert "/patchbot fix" in reply.body["body"] and "/patchbot stop" in reply.body["body"]
    assert await intake.store.list_runs() == []


async def test_minimum_permission_is_configurable(intake: Any) -> None:
    intake.dispatcher.settings = intake.dispatcher.settings.model_copy(
        update={"min_permission": "admin"}
    )
    intake.allow("alice", "maintain")
    intake.gh.reply("POST", COMMENTS, status=201)
    await comment_on(intake, "/patchbot fix")
    assert await intake.store.list_runs() == []
    [reply] = intake.gh.calls_to("POST", COMMENTS)
    assert "**admin**" in reply.body["body"]


async def test_installations_are_recorded(intake: Any) -> None:
    await intake.send("installation", "created")
    await intake.settle()
    installation = await intake.store.get_installation(957387)
    assert installation is not None and installation.account == "Codertocat"
    assert installation.repositories == ["Codertocat/Hello-World"]
    await intake.send("installation_repositories", "added")
    await intake.settle()
    installation = await intake.store.get_installation(957387)
    assert installation is not None
    assert installation.repositories == ["Codertocat/Hello-World", "Codertocat/Space"]
    same = {"installation": {"id": 957387}}  # the fixtures come from different installations
    await intake.send("installation", "suspend", same)
    await intake.settle()
    installation = await intake.store.get_installation(957387)
    assert installation is not None and installation.suspended
    await intake.send("installation", "unsuspend", same)
    await intake.settle()
    installation = await intake.store.get_installation(957387)
    assert installation is not None and not installation.suspended
    assert len(installation.repositories) == 2
    await intake.send("installation", "deleted", same)
    await intake.settle()
    assert await intake.store.get_installation(957387) is None
