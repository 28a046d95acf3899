"""The diff parser on real `git diff --binary` output."""

from __future__ import annotations

import os

from bot.policy.diff import ChangedFile, parse_diff


def by_path(diff: str) -> dict[str, ChangedFile]:
    return {file.path: file for file in parse_diff(diff)}


def test_modified_added_and_deleted_files_are_counted_line_by_line(make_repo):
    repo = make_repo({"a.py": "one\ntwo\nthree\n", "gone.txt": "x\ny\n"})
    repo.write("a.py", "one\n2\nthree\nfour\n")
    repo.write("new/b.py", "print('hi')\n")
    (repo.path / "gone.txt").unlink()
    files = by_path(repo.diff())

    assert set(files) == {"a.py", "new/b.py", "gone.txt"}
    a = files["a.py"]
    assert (a.status, a.added, a.removed) == ("modified", 2, 1)
    assert [(line.number, line.text) for line in a.added_lines] == [(2, "2"), (4, "four")]
    assert [(line.number, line.text) for line in a.removed_lines] == [(2, "two")]
    assert (files["new/b.py"].status, files["new/b.py"].added) == ("added", 1)
    assert files["new/b.py"].mode == "100644"
    gone = files["gone.txt"]
    assert (gone.status, gone.added, gone.removed) == ("deleted", 0, 2)


def test_renames_keep_both_paths(make_repo):
    body = "".join(f"line {n}\n" for n in range(30))
    repo = make_repo({"old/name.py": body, "same.py": body.replace("line", "row")})
    (repo.path / "old/name.py").rename(repo.path / "name_new.py")
    os.makedirs(repo.path / "moved")
    os.rename(repo.path / "same.py", repo.path / "moved/same.py")
    repo.write("moved/same.py", body.replace("line", "row") + "extra\n")
    files = by_path(repo.diff())

    pure = files["name_new.py"]
    assert (pure.status, pure.old_path, pure.added, pure.removed) == (
        "renamed",
        "old/name.py",
        0,
        0,
    )
    assert pure.paths == ["old/name.py", "name_new.py"]
    edited = files["moved/same.py"]
    assert (edited.status, edited.old_path, edited.added) == ("renamed", "same.py", 1)
    assert edited.added_lines[0].number == 31


def test_binary_files_are_marked_and_not_counted(make_repo):
    repo = make_repo({"img.bin": bytes(range(256)) * 4})
    repo.write("img.bin", bytes(reversed(range(256))) * 4)
    repo.write("new.bin", b"\x00\x01\x02" * 100)
    files = by_path(repo.diff())

    assert files["img.bin"].binary and files["img.bin"].status == "modified"
    assert files["new.bin"].binary and files["new.bin"].status == "added"
    assert all(file.added == 0 and file.removed == 0 for file in files.values())


def test_lines_that_look_like_headers_are_content(make_repo):
    repo = make_repo({"notes.md": "keep\n"})
    tricky = "++ not a header\n-- nor this\n+++ b/evil.py\ndiff --git a/x b/x\n"
    repo.write("notes.md", "keep\n" + tricky)
    [file] = parse_diff(repo.diff())

    assert file.path == "notes.md"
    assert file.added == 4
    assert file.added_lines[2].text == "+++ b/evil.py"


def test_quoted_unicode_paths_with_spaces_and_no_final_newline(make_repo):
    repo = make_repo({"docs/spécial name.txt": "a\nb"})
    repo.write("docs/spécial name.txt", "a\nc")
    repo.write("tab\tname.txt", "x")
    files = by_path(repo.diff())

    assert set(files) == {"docs/spécial name.txt", "tab\tname.txt"}
    special = files["docs/spécial name.txt"]
    assert (special.added, special.removed) == (1, 1)


def test_symbolic_links_and_mode_changes_are_recorded(make_repo):
    repo = make_repo({"run.sh": "echo hi\n"})
    os.symlink("/etc/passwd", repo.path / "link")
    os.chmod(repo.path / "run.sh", 0o755)
    files = by_path(repo.diff())

    assert files["link"].mode == "120000"
    assert files["run.sh"].mode == "100755"
    assert files["run.sh"].added == 0


def test_a_link_pointed_elsewhere_keeps_its_link_mode(make_repo):
    repo = make_repo({"README.md": "x\n"})
    os.symlink("README.md", repo.path / "link")
    repo.commit()
    (repo.path / "link").unlink()
    os.symlink("/etc/passwd", repo.path / "link")
    [link] = parse_diff(repo.diff())
    assert (link.path, link.mode, link.status) == ("link", "120000", "modified")


def test_an_empty_diff_has_no_files(make_repo):
    repo = make_repo({"a.py": "x\n"})
    assert parse_diff(repo.diff()) == []
    assert parse_diff("") == []
