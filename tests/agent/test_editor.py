"""The editor's commands, run for real through bash against a host directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.agent.editor import WRITE_CHUNK, Editor, EditorArgs, EditorError, confine

SOURCE = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"


@pytest.fixture
def editor(host_sandbox) -> Editor:  # type: ignore[no-untyped-def]
    (host_sandbox.root / "pkg").mkdir()
    (host_sandbox.root / "pkg" / "calc.py").write_text(SOURCE)
    return Editor(host_sandbox)


def file(editor: Editor, name: str = "pkg/calc.py") -> Path:
    return editor.sandbox.root / name  # type: ignore[attr-defined, no-any-return]


async def run(editor: Editor, **args: object) -> str:
    return await editor.run(EditorArgs.model_validate(args))


async def test_view_numbers_lines_and_honours_a_range(editor: Editor) -> None:
    whole = await run(editor, command="view", path="/workspace/pkg/calc.py")
    assert whole.splitlines()[1] == "     2\t    return a - b"
    assert len(whole.splitlines()) == 6  # the final newline is no seventh line
    part = await run(editor, command="view", path="pkg/calc.py", view_range=[5, -1])
    assert part.splitlines() == ["     5\tdef sub(a, b):", "     6\t    return a - b"]


async def test_view_range_outside_the_file_is_refused(editor: Editor) -> None:
    with pytest.raises(EditorError, match="outside the file's 6 lines"):
        await run(editor, command="view", path="pkg/calc.py", view_range=[4, 60])


async def test_view_of_a_directory_lists_it_without_hidden_files(editor: Editor) -> None:
    (file(editor, ".hidden")).write_text("x")
    listing = await run(editor, command="view", path="/workspace")
    assert str(file(editor)) in listing or "pkg/calc.py" in listing
    assert ".hidden" not in listing


async def test_str_replace_needs_a_unique_match_and_changes_nothing_otherwise(
    editor: Editor,
) -> None:
    with pytest.raises(EditorError, match="occurs 2 times"):
        await run(editor, command="str_replace", path="pkg/calc.py", old_str="return a - b")
    with pytest.raises(EditorError, match="not found"):
        await run(editor, command="str_replace", path="pkg/calc.py", old_str="return a * b")
    assert file(editor).read_text() == SOURCE


async def test_str_replace_edits_and_shows_the_result(editor: Editor) -> None:
    shown = await run(
        editor,
        command="str_replace",
        path="pkg/calc.py",
        old_str="def add(a, b):\n    return a - b",
        new_str="def add(a, b):\n    return a + b",
    )
    assert file(editor).read_text() == SOURCE.replace("a - b", "a + b", 1)
    assert "     2\t    return a + b" in shown


async def test_insert_goes_after_the_given_line(editor: Editor) -> None:
    await run(editor, command="insert", path="pkg/calc.py", insert_line=0, new_str="import os")
    await run(editor, command="insert", path="pkg/calc.py", insert_line=7, new_str="# end")
    lines = file(editor).read_text().split("\n")
    assert lines[0] == "import os"
    assert lines[-2:] == ["# end", ""]  # after the last line, before the final newline
    with pytest.raises(EditorError, match=r"outside 0\.\.8"):
        await run(editor, command="insert", path="pkg/calc.py", insert_line=9, new_str="x")


async def test_undo_restores_each_earlier_version_in_turn(editor: Editor) -> None:
    await run(editor, command="str_replace", path="pkg/calc.py", old_str="add", new_str="plus")
    await run(editor, command="insert", path="pkg/calc.py", insert_line=0, new_str="# top")
    await run(editor, command="undo_edit", path="pkg/calc.py")
    assert file(editor).read_text() == SOURCE.replace("add", "plus")
    await run(editor, command="undo_edit", path="pkg/calc.py")
    assert file(editor).read_text() == SOURCE
    with pytest.raises(EditorError, match="no edit"):
        await run(editor, command="undo_edit", path="pkg/calc.py")


async def test_create_makes_parents_refuses_to_overwrite_and_undo_removes(
    editor: Editor,
) -> None:
    await run(editor, command="create", path="pkg/sub/new.py", file_text="X = 1\n")
    assert file(editor, "pkg/sub/new.py").read_text() == "X = 1\n"
    with pytest.raises(EditorError, match="already exists"):
        await run(editor, command="create", path="pkg/calc.py", file_text="")
    await run(editor, command="undo_edit", path="pkg/sub/new.py")
    assert not file(editor, "pkg/sub/new.py").exists()


async def test_large_files_round_trip_in_chunks(editor: Editor) -> None:
    text = "".join(f"line {n} ünïcode 'quoted' $HOME `x`\n" for n in range(8000))
    assert len(text) > 3 * WRITE_CHUNK
    await run(editor, command="create", path="big.txt", file_text=text)
    assert file(editor, "big.txt").read_text() == text
    await run(editor, command="str_replace", path="big.txt", old_str="line 7999 ", new_str="end ")
    assert file(editor, "big.txt").read_text() == text.replace("line 7999 ", "end ")
    assert not list(editor.sandbox.root.glob("*.patchbot-edit"))  # type: ignore[attr-defined]


async def test_binary_files_are_left_to_bash(editor: Editor) -> None:
    file(editor, "blob.bin").write_bytes(b"\xff\xfe\x00\x80")
    with pytest.raises(EditorError, match="not UTF-8"):
        await run(editor, command="view", path="blob.bin")


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.py", "/workspace/../etc/shadow", ""])
def test_paths_outside_the_workspace_are_refused(path: str) -> None:
    with pytest.raises(EditorError):
        confine(path)


def test_relative_paths_resolve_inside_the_workspace() -> None:
    assert confine("pkg/./calc.py") == "/workspace/pkg/calc.py"
    assert confine("/workspace/a/../b.py") == "/workspace/b.py"
