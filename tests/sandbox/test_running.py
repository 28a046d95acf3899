"""Set-up, test runs, caching and clean-up of real sandboxes."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from bot.errors import SandboxError, SetupFailed
from bot.sandbox.config import SandboxConfig
from bot.sandbox.docker import open_sandbox
from bot.sandbox.launch import LABEL, OWNER_LABEL, owner_label
from bot.sandbox.models import Limit, Outcome

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("docker_ready")]


def own_containers() -> list[str]:
    client = docker.from_env()
    label = f"{OWNER_LABEL}={owner_label()}"
    # One listing call: `containers.list` inspects each, and one being removed is a 404.
    return [c["Id"] for c in client.api.containers(all=True, filters={"label": [LABEL, label]})]


def env_volumes(name_part: str) -> list[str]:
    client = docker.from_env()
    return [v.name for v in client.volumes.list(filters={"label": LABEL}) if name_part in v.name]


async def test_mixed_suite_is_reported_test_by_test(
    example_repo: Callable[[str], Path],
) -> None:
    async with open_sandbox(example_repo("mixed"), SandboxConfig()) as sandbox:
        report = await sandbox.run_tests()
    outcomes = {case.id: case.outcome for case in report.cases}
    assert report.count(Outcome.PASSED) == 3
    assert report.count(Outcome.FAILED) == 2
    assert report.count(Outcome.ERROR) == 1
    assert report.count(Outcome.SKIPPED) == 1
    assert outcomes["tests/test_mixed.py::test_wrong_arithmetic"] is Outcome.FAILED
    assert all(case.duration is not None for case in report.cases)
    assert report.summary_line() == "3 passed, 3 failed, 1 skipped"


async def test_hanging_suite_is_killed_at_the_timeout(
    example_repo: Callable[[str], Path],
) -> None:
    async with open_sandbox(example_repo("hangs"), SandboxConfig()) as sandbox:
        report = await sandbox.run_tests(timeout=3)
        assert report.timed_out
        assert report.limits == [Limit.TIME]
        assert not report.all_passed
        assert report.duration < 30
        left = await sandbox.exec("ps -eo args --no-headers | grep -c '^python -m pytest' || true")
        assert left.stdout.strip() == "0"


async def test_setup_is_cached_for_the_same_dependency_files(
    example_repo: Callable[[str], Path],
) -> None:
    repo = example_repo("with_deps")
    marker = uuid.uuid4().hex  # a comment unique to this test run: a fresh cache key
    with (repo / "requirements.txt").open("a") as requirements:
        requirements.write(f"# {marker}\n")
    first_config = SandboxConfig()
    async with open_sandbox(repo, first_config) as sandbox:
        assert not sandbox.setup.cached
        first = sandbox.setup.duration
        assert (await sandbox.run_tests()).all_passed
    async with open_sandbox(repo, first_config) as sandbox:
        assert sandbox.setup.cached
        assert sandbox.setup.duration < first
        assert sandbox.setup.volume is not None
        assert (await sandbox.run_tests()).all_passed
    docker.from_env().volumes.get(sandbox.setup.volume).remove(force=True)
    docker.from_env().volumes.get(f"{sandbox.setup.volume}-ready").remove(force=True)


async def test_tests_run_without_network_even_when_setup_had_it(
    example_repo: Callable[[str], Path],
) -> None:
    async with open_sandbox(example_repo("with_deps"), SandboxConfig()) as sandbox:
        interfaces = await sandbox.exec("ls /sys/class/net")
    assert interfaces.stdout.split() == ["lo"]


async def test_failed_setup_says_why_and_leaves_nothing_behind(
    example_repo: Callable[[str], Path],
) -> None:
    before = set(env_volumes("patchbot-env-"))
    config = SandboxConfig(cache_scope=uuid.uuid4().hex)  # never an environment made before
    with pytest.raises(SetupFailed) as failure:
        async with open_sandbox(example_repo("setup_fails"), config):
            pytest.fail("the sandbox must not start after a failed set-up")
    assert "patchbot-no-such-package" in str(failure.value)
    assert "setup_command" in str(failure.value)
    assert own_containers() == []
    assert set(env_volumes("patchbot-env-")) == before


async def test_offline_setup_fails_clearly_when_dependencies_need_network(
    example_repo: Callable[[str], Path],
) -> None:
    repo = example_repo("with_deps")
    (repo / "requirements.txt").write_text(f"tomli-w==1.0.0\n# {uuid.uuid4().hex}\n")
    with pytest.raises(SetupFailed, match="no network"):
        async with open_sandbox(repo, SandboxConfig(setup_network=False)):
            pass


async def test_container_is_removed_on_error_and_on_cancellation(
    example_repo: Callable[[str], Path],
) -> None:
    repo = example_repo("calc")
    with pytest.raises(RuntimeError):
        async with open_sandbox(repo, SandboxConfig()):
            assert len(own_containers()) == 1
            raise RuntimeError("boom")
    assert own_containers() == []

    started = asyncio.Event()

    async def long_command() -> None:
        async with open_sandbox(repo, SandboxConfig()) as sandbox:
            started.set()
            await sandbox.exec("sleep 300", timeout=600)

    task = asyncio.create_task(long_command())
    await asyncio.wait_for(started.wait(), 60)
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert own_containers() == []


async def test_workspace_is_handed_to_the_sandbox_user_when_running_as_root(
    example_repo: Callable[[str], Path],
) -> None:
    repo = example_repo("calc")
    async with open_sandbox(repo, SandboxConfig()) as sandbox:
        uid = int((await sandbox.exec("id -u")).stdout)
    assert uid != 0
    if os.geteuid() == 0:
        assert repo.stat().st_uid == uid


async def test_workspace_sharing_files_through_hard_links_is_refused(
    example_repo: Callable[[str], Path], tmp_path: Path
) -> None:
    repo = example_repo("calc")
    outside = tmp_path / "outside.py"
    outside.write_text("original\n")
    os.link(outside, repo / "linked.py")
    if os.geteuid() != 0:
        pytest.skip("only a root Patchbot hands files over to the sandbox user")
    with pytest.raises(SandboxError, match="hard-linked"):
        async with open_sandbox(repo, SandboxConfig()):
            pass
    assert outside.stat().st_uid == 0
    assert own_containers() == []


async def test_repositories_never_share_a_setup_environment(
    example_repo: Callable[[str], Path],
) -> None:
    repo = example_repo("with_deps")
    with (repo / "requirements.txt").open("a") as requirements:
        requirements.write(f"# {uuid.uuid4().hex}\n")
    volumes = []
    for scope in ("octo/one", "octo/two"):
        async with open_sandbox(repo, SandboxConfig(cache_scope=scope)) as sandbox:
            assert not sandbox.setup.cached
            volumes.append(sandbox.setup.volume)
    assert volumes[0] != volumes[1]
    client = docker.from_env()
    for volume in volumes:
        client.volumes.get(volume).remove(force=True)
        client.volumes.get(f"{volume}-ready").remove(force=True)


async def test_offline_set_up_of_a_repository_without_dependencies_makes_do_with_the_image(
    example_repo: Callable[[str], Path],
) -> None:
    config = SandboxConfig(setup_network=False, cache_scope=uuid.uuid4().hex)
    async with open_sandbox(example_repo("calc"), config) as sandbox:
        report = sandbox.setup_report
        assert report is not None
        # the first plan downloads; a later try makes do with what the image has
        assert report.tries[0].outcome == "install_failed" and report.tries[-1].outcome == "ok"
        assert (await sandbox.run_tests()).failed == 0


@pytest.mark.parametrize("image", ["python3.9", "python3.13"])
async def test_every_image_runs_commands_and_judges_tests(
    example_repo: Callable[[str], Path], image: str
) -> None:
    """The exec server and the judge run on each image's own Python (3.9 evaluates
    annotations that 3.10 wrote)."""
    config = SandboxConfig(image=image, images=[], setup_network=False)
    async with open_sandbox(example_repo("calc"), config) as sandbox:
        version = await sandbox.exec("python3 -c 'import sys; print(sys.version_info[:2])'")
        report = await sandbox.run_tests()
    assert version.ok and version.stdout.strip() == str(tuple(map(int, image[6:].split("."))))
    assert report.cases and not report.tampered
    assert {case.outcome for case in report.cases} <= {Outcome.PASSED, Outcome.FAILED}


async def started_before_edits(
    repo: Path, edit: Callable[[Path], None]
) -> tuple[list[str], str, str, list[str]]:
    """Open a sandbox on `repo` that waits for edits, `edit` the tree once its container runs,
    then use it: the containers before the edits, the one used, what `probe` says, and the
    containers left after it closed."""
    earlier = set(own_containers())  # an earlier test's, still being removed

    def started() -> list[str]:
        return sorted(set(own_containers()) - earlier)

    edited: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    opening = open_sandbox(repo, SandboxConfig(), edited=edited)
    entering = asyncio.create_task(opening.__aenter__())
    for _ in range(300):
        if started() or entering.done():
            break
        await asyncio.sleep(0.05)
    before = started()
    edit(repo)
    edited.set_result(None)
    sandbox = await entering
    try:
        probe = (
            "touch new/written && echo $PYTHONPATH && python -m pytest -q -p no:cacheprovider new"
        )
        said = (await sandbox.exec(probe)).stdout
        used = str(sandbox.container.id)
    finally:
        await opening.__aexit__(None, None, None)
    return before, used, said, started()


async def test_a_sandbox_started_before_the_edits_runs_on_them(
    example_repo: Callable[[str], Path],
) -> None:
    """Verification starts its sandboxes on the base while the agent works, and applies the
    patch when it is known: the sandbox sees the edits, its user may write where they wrote,
    and it is the container started before them."""

    def edit(tree: Path) -> None:
        (tree / "new").mkdir()
        (tree / "new" / "test_new.py").write_text("def test_new():\n    assert True\n")

    before, used, said, after = await started_before_edits(example_repo("calc"), edit)
    assert before == [used]
    assert "/workspace\n" in said and "/workspace/src" not in said
    assert "1 passed" in said
    assert after == []


async def test_edits_that_make_another_environment_start_the_sandbox_again(
    example_repo: Callable[[str], Path],
) -> None:
    def edit(tree: Path) -> None:  # a src layout puts /workspace/src on the tests' path
        (tree / "new").mkdir()
        (tree / "src" / "extra").mkdir(parents=True)
        (tree / "src" / "extra" / "__init__.py").write_text("")

    before, used, said, after = await started_before_edits(example_repo("calc"), edit)
    assert len(before) == 1 and before != [used]
    assert "/workspace/src:/workspace\n" in said
    assert after == []


def test_a_container_another_process_is_removing_is_waited_for() -> None:
    """A sweep or `patchbot sandbox gc` removing the same container answers 409 to our removal:
    the disks it writes to are detached only once it is gone."""
    import threading

    from bot.sandbox.images import image_tag
    from bot.sandbox.launch import _wait_until_gone

    client = docker.from_env()
    try:
        container = client.containers.create(image_tag("python"), "true")
        threading.Timer(0.5, lambda: container.remove(force=True)).start()
        _wait_until_gone(container, timeout=30)
        stays = client.containers.create(image_tag("python"), "true")
        try:
            with pytest.raises(SandboxError, match="still being removed"):
                _wait_until_gone(stays, timeout=0.5)
        finally:
            stays.remove(force=True)
    finally:
        client.close()
