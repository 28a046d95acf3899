"""Who may start and stop work, through the simulator's signed deliveries to the running app."""

from __future__ import annotations

from typing import Any

from bot.runs.models import NewRun, RunState
from tests.simulated import COMMENTS, INSTALLATION, ISSUE, REACTIONS, REPO_NAME


async def label(intake: Any, name: str = "patchbot", login: str = "alice") -> None:
    delivery = await intake.github.label_issue(REPO_NAME, ISSUE, name, by=login)
    assert delivery.status == 200
    await intake.settle()


async def comment_on(intake: Any, body: str, login: str = "alice") -> None:
    delivery = await intake.github.comment_on(REPO_NAME, ISSUE, body, by=login)
    assert delivery.status == 200
    await intake.settle()


async def test_trigger_label_from_a_writer_queues_a_run_and_says_so(intake: Any) -> None:
    intake.allow("alice", "write")
    intake.gh.reply("POST", COMMENTS, status=201)
    await label(intake)
    [run] = await intake.store.list_runs()
    assert (run.repository, run.issue, run.requester, run.trigger) == (
        REPO_NAME,
        ISSUE,
        "alice",
        "label",
    )
    assert run.installation_id == INSTALLATION and run.state is RunState.QUEUED
    [posted] = intake.gh.calls_to("POST", COMMENTS)
    assert f"run #{run.id}" in posted.body["body"] and "<!-- patchbot:" in posted.body["body"]


async def test_label_is_matched_case_insensitively_and_others_are_ignored(intake: Any) -> None:
    await label(intake, "bug")
    assert intake.gh.calls == [] and await intake.store.list_runs() == []
    intake.allow("alice", "admin")
    intake.gh.reply("POST", COMMENTS, status=201)
    await label(intake, "PatchBot")
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
        f"/repos/{REPO_NAME}/collaborators/stranger/permission",
        status=404,
        body={"message": "Not Found"},
    )
    intake.gh.reply("POST", COMMENTS, status=201)
    await comment_on(intake, "/patchbot fix", login="stranger")
    assert await intake.store.list_runs() == []
    assert len(intake.gh.calls_to("POST", COMMENTS)) == 1


async def test_bots_own_comment_does_nothing(intake: Any) -> None:
    await comment_on(intake, "/patchbot fix", login="patchbot[bot]")
    intake.github.state.user("dependabot[bot]", "Bot")
    await comment_on(intake, "/patchbot fix", login="dependabot[bot]")
    await label(intake, login="patchbot[bot]")
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
    await comment_on(intake, "/patchbot fix now please")
    [run] = await intake.store.list_runs()
    [reply] = intake.gh.calls_to("POST", COMMENTS)
    assert f"run #{run.id} is already queued" in reply.body["body"]


async def test_stop_cancels_the_queued_run(intake: Any) -> None:
    intake.allow("alice", "write")
    intake.gh.reply("POST", REACTIONS, status=201)
    intake.gh.reply("POST", COMMENTS, status=201)
    await comment_on(intake, "/patchbot fix")
    await comment_on(intake, "/patchbot stop")
    [run] = await intake.store.list_runs()
    assert run.state is RunState.CANCELLED
    [reply] = intake.gh.calls_to("POST", COMMENTS)
    assert f"run #{run.id}" in reply.body["body"]
    # With the run stopped, the issue can be worked on again.
    await comment_on(intake, "/patchbot fix")
    assert len(await intake.store.list_runs()) == 2


async def test_stop_from_a_reader_is_refused(intake: Any) -> None:
    intake.allow("alice", "write")
    intake.allow("mallory", "triage")
    intake.gh.reply("POST", REACTIONS, status=201)
    intake.gh.reply("POST", COMMENTS, status=201)
    await comment_on(intake, "/patchbot fix")
    await comment_on(intake, "/patchbot stop", login="mallory")
    [run] = await intake.store.list_runs()
    assert run.state is RunState.QUEUED


async def test_retry_reuses_the_last_instructions(intake: Any) -> None:
    intake.allow("alice", "write")
    intake.gh.reply("POST", REACTIONS, status=201)
    intake.gh.reply("POST", COMMENTS, status=201)
    await comment_on(intake, "/patchbot fix mind the docs")
    await comment_on(intake, "/patchbot stop")
    await comment_on(intake, "/patchbot retry")
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
    github = intake.github
    github.add_repo("octo/space")

    async def recorded(*deliveries: Any) -> Any:
        assert [d.status for d in deliveries] == [200] * len(deliveries)
        await intake.settle()
        return await intake.store.get_installation(INSTALLATION)

    installation = await recorded(await github.announce_installation(INSTALLATION))
    assert (installation.account, installation.repositories) == ("octo", [REPO_NAME])
    added = await github.change_installation_repositories(
        INSTALLATION, add=["octo/space"], by="octo"
    )
    installation = await recorded(*added)
    assert installation.repositories == [REPO_NAME, "octo/space"]
    installation = await recorded(await github.suspend_installation(INSTALLATION, by="octo"))
    assert installation.suspended
    lifted = await github.suspend_installation(INSTALLATION, by="octo", suspended=False)
    installation = await recorded(lifted)
    assert not installation.suspended and len(installation.repositories) == 2
    removed = await github.change_installation_repositories(
        INSTALLATION, remove=[REPO_NAME], by="octo"
    )
    installation = await recorded(*removed)
    assert installation.repositories == ["octo/space"]
    assert await recorded(await github.uninstall(INSTALLATION, by="octo")) is None


async def test_a_run_that_must_wait_says_how_many_are_ahead_of_it(intake: Any) -> None:
    intake.allow("alice", "maintain")
    for other in (901, 902):  # queued earlier, on other issues
        await intake.store.create_run(
            NewRun(repository=REPO_NAME, issue=other, requester="bob", trigger="cli")
        )
    intake.gh.reply("POST", REACTIONS, status=201, body={"content": "eyes"})
    intake.gh.reply("POST", COMMENTS, status=201)
    await comment_on(intake, "/patchbot fix")
    [posted] = intake.gh.calls_to("POST", COMMENTS)
    assert "2 queued run(s) are ahead of it" in posted.body["body"]
    assert "asked with `/patchbot fix`" in posted.body["body"]
    assert "<!-- patchbot:status run=3 -->" in posted.body["body"]  # the run edits it later
