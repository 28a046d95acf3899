"""What people read about a set-up: the collection check's reading, the decisive lines, the
`.github/patchbot.yml` snippet, and the status comment when the gate stops a run."""

from __future__ import annotations

from bot.pipeline.texts import escalation_text
from bot.sandbox.setup_collect import decisive_lines, read_collection
from bot.setup.model import Install, SetupReport, TestCommand, Try
from bot.setup.snippet import snippet
from bot.solve.outcome import SolveOutcome, SolveResult


def test_pytest_collection_counts_and_errors() -> None:
    assert read_collection("pytest", 0, "a.py: 3\nb.py: 4\n") == (7, 0)
    assert read_collection("pytest", 2, "ERROR x\n2 tests collected, 1 error in 0.1s") == (2, 1)
    assert read_collection("pytest", 4, "ERROR: usage: unrecognized arguments: --cov") == (0, 1)
    assert read_collection("pytest", 5, "no tests collected in 0.01s") == (0, 0)
    assert read_collection("unittest", 0, "12 tests collected, 0 errors\n") == (12, 0)
    assert read_collection("unittest", 1, "Traceback ...") == (0, 1)


def test_the_cause_comes_last_among_the_decisive_lines() -> None:
    output = "E   ModuleNotFoundError: No module named 'x'\nERROR tests/test_a.py\n"
    assert decisive_lines(output)[-1] == "E   ModuleNotFoundError: No module named 'x'"


def test_a_full_disk_is_decisive_with_the_limit_that_explains_it() -> None:
    output = (
        "dd: error writing '/env/fill': No space left on device\n33+0 records in\n"
        "32+0 records out\n[patchbot: /env is full (limit 32 MiB)]\n"
    )
    assert decisive_lines(output) == [
        "dd: error writing '/env/fill': No space left on device",
        "[patchbot: /env is full (limit 32 MiB)]",
    ]


def report(ok: bool) -> SetupReport:
    install = Install(extras=["test"], files=["req.txt"])
    commands = [
        "rm -rf /env/venv",
        "uv pip install --python /env/venv/bin/python -r req.txt -e '.[test]'",
    ]
    return SetupReport(
        ok=ok,
        sources=["tox.ini [testenv]"],
        image="python",
        installer="uv",
        install=install,
        test=TestCommand(runner="pytest", args=["tests"], env={"A": "1 2"}),
        tries=[
            Try(
                number=1,
                rule="plan",
                commands=commands,
                outcome="ok" if ok else "install_failed",
                decisive=["No solution found <b>@someone</b>"],
            )
        ],
        error="" if ok else "the dependencies could not be installed",
    )


def test_the_snippet_pins_the_winning_commands_without_the_venvs_path() -> None:
    text = snippet(report(True))
    assert "setup_command: 'uv pip install -r req.txt -e ''.[test]'''" in text
    assert "test_command: 'A=''1 2'' python -m pytest tests'" in text
    assert "/env/venv" not in text


def test_the_status_comment_of_a_stopped_run_shows_tries_and_yaml_quoted() -> None:
    result = SolveResult(
        stop_reason=SolveOutcome.SETUP_FAILED,
        detail="the repository could not be set up",
        patch="",
        base_commit="0" * 40,
        setup=report(False),
    )
    text = escalation_text(7, result)
    assert "```yaml" in text and "# nothing worked" in text
    assert "install_failed" in text
    # untrusted output only inside a code span, where GitHub renders no HTML and no mention
    assert "`No solution found <b>@someone</b>`" in text
    assert text.count("<b>") == 1
