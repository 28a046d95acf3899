"""The dashboard as a person uses it, in a real headless Chromium (Debian's, driven through
its chromium-driver by selenium): sign in through the simulated GitHub, then the runs list, a
run's timeline, the approvals and the KPIs of a store filled by two real runs (the sandbox in
Docker, the scripted model): one that opened a pull request, one held for approval. Each page
is saved as a PNG in `.patchbot-screens/` of the checkout, whose path the test prints."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from bot.agent.scripted import load_trajectory
from bot.runs.models import Run, RunState
from bot.testing.stack import MAINTAINER, LocalStack
from tests.conftest import unavailable

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("docker_ready")]

ROOT = Path(__file__).resolve().parents[2]
SCREENS = ROOT / ".patchbot-screens"
REPOSITORY = "octo/stats"
FIX = ROOT / "bot" / "agent" / "trajectories" / "fix_median.jsonl"
HELD = ROOT / "tests" / "containment" / "fix_with_workflow.jsonl"
"""A fix that also adds a CI workflow: the default policy holds it for a human."""
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
NAVIGATION = 30
"""Seconds a page may take to come (and an element to appear on it) on a loaded CI machine."""


def require_browser() -> None:
    """Chromium and its driver are there; in CI their absence fails the test."""
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        unavailable("the browser test needs Debian's chromium and chromium-driver (scripts/setup)")


def browser() -> object:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1300,1800",
        "--disable-gpu",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def browse(url: str, runs: tuple[Run, Run], folder: Path) -> list[Path]:
    """What a person does, one page after the other; the screenshots taken."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    fixed, held = runs
    driver = browser()
    driver.implicitly_wait(NAVIGATION)  # type: ignore[attr-defined]
    shots: list[Path] = []

    def follow(element: object) -> None:
        """Click what leads to another page and wait until the browser is on it: a click
        returns before the navigation it starts has happened."""
        before = driver.current_url  # type: ignore[attr-defined]
        element.click()  # type: ignore[attr-defined]
        WebDriverWait(driver, NAVIGATION).until(expected_conditions.url_changes(before))

    def shot(name: str) -> None:
        path = folder / f"{name}.png"
        assert driver.save_screenshot(str(path)), f"no screenshot of {name}"  # type: ignore[attr-defined]
        shots.append(path)

    try:
        driver.get(f"{url}/ui/")  # type: ignore[attr-defined]
        # Not signed in: sent to GitHub's sign-in page (the simulator's).
        assert "/login/oauth/authorize" in driver.current_url  # type: ignore[attr-defined]
        shot("0-github-sign-in")
        driver.find_element(By.ID, "login_field").send_keys(MAINTAINER)  # type: ignore[attr-defined]
        follow(driver.find_element(By.ID, "authorize"))  # type: ignore[attr-defined]

        assert driver.current_url == f"{url}/ui/"  # type: ignore[attr-defined]
        assert driver.find_element(By.ID, "login").text == MAINTAINER  # type: ignore[attr-defined]
        table = driver.find_element(By.ID, "runs").text  # type: ignore[attr-defined]
        assert f"{REPOSITORY}#{fixed.issue}" in table and "succeeded" in table
        assert f"{REPOSITORY}#{held.issue}" in table and "awaiting_approval" in table
        shot("1-runs")

        follow(driver.find_element(By.LINK_TEXT, f"#{fixed.id}"))  # type: ignore[attr-defined]
        timeline = driver.find_element(By.ID, "timeline").text  # type: ignore[attr-defined]
        for seen in (
            "prompt for step 1",
            "model answer, step 1",
            "tool call: run_tests",
            "verification of attempt 1: accepted",
            "pull request #",
        ):
            assert seen in timeline, seen
        assert "tokens" in timeline
        assert "proven" in driver.find_element(By.ID, "tests").text  # type: ignore[attr-defined]
        assert "+" in driver.find_element(By.ID, "diff").text  # type: ignore[attr-defined]
        shot("2-run-timeline")

        follow(driver.find_element(By.LINK_TEXT, "Approvals"))  # type: ignore[attr-defined]
        approvals = driver.find_element(By.ID, "approvals").text  # type: ignore[attr-defined]
        assert f"#{held.id}" in approvals and "write access or more" in approvals
        assert f"except {MAINTAINER}" in approvals
        shot("3-approvals")

        follow(driver.find_element(By.LINK_TEXT, "KPIs"))  # type: ignore[attr-defined]
        section = driver.find_element(By.CSS_SELECTOR, "section.repo")  # type: ignore[attr-defined]
        assert REPOSITORY in section.text
        assert "runs\n2\n2 first, 0 revisions" in section.text
        assert "pull requests\n1\n" in section.text  # the held run opened none
        assert len(section.find_elements(By.TAG_NAME, "svg")) == 2
        shot("4-kpi")
    finally:
        driver.quit()  # type: ignore[attr-defined]
    return shots


async def test_a_person_signs_in_and_reads_runs_timeline_approvals_and_kpis(
    tmp_path: Path,
) -> None:
    require_browser()
    script = load_trajectory(FIX) + load_trajectory(HELD)
    async with LocalStack(tmp_path / "stack", script) as stack:
        example = ROOT / "tests" / "examples" / "buggy_stats"
        title, _, body = (example / "ISSUE.md").read_text().partition("\n")
        first = await stack.seed(REPOSITORY, example, title.strip(), body.strip())
        await stack.github.label_issue(REPOSITORY, first, "patchbot", by=MAINTAINER)
        fixed = await stack.finished_run(REPOSITORY, first, timeout=240)
        assert fixed.state is RunState.SUCCEEDED, fixed.summary
        second = stack.github.add_issue(
            REPOSITORY,
            "median() is wrong for an even count",
            "and CI should run",
            author=MAINTAINER,
        ).number
        await stack.github.label_issue(REPOSITORY, second, "patchbot", by=MAINTAINER)
        held = await stack.finished_run(REPOSITORY, second, timeout=240, until_paused=True)
        assert held.state is RunState.AWAITING_APPROVAL, held.summary

        folder = tmp_path / "screens"
        folder.mkdir()
        shots = await asyncio.to_thread(browse, stack.url, (fixed, held), folder)
    SCREENS.mkdir(exist_ok=True)
    for shot in shots:
        assert shot.stat().st_size > 10_000  # a page, not a blank
        shutil.copy(shot, SCREENS / shot.name)
    print(f"\nscreenshots: {folder} (copied to {SCREENS})")
