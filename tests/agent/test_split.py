"""A patch split by the base commit's discovery rules: tests, sources, test configuration."""

from __future__ import annotations

from bot.solve.split import patch_paths, split_patch

PATCH = """\
diff --git a/src/app.py b/src/app.py
--- a/src/app.py
+++ b/src/app.py
@@ -1 +1 @@
-x = 1
+x = 2
diff --git a/checks/check_app.py b/checks/check_app.py
new file mode 100644
--- /dev/null
+++ b/checks/check_app.py
@@ -0,0 +1 @@
+def test_x(): pass
diff --git a/tests/test_old.py b/tests/old_check.py
similarity index 100%
rename from tests/test_old.py
rename to tests/old_check.py
diff --git a/tests/helpers.py b/tests/helpers.py
--- a/tests/helpers.py
+++ b/tests/helpers.py
@@ -1 +1 @@
-a = 1
+a = 2
diff --git a/pyproject.toml b/pyproject.toml
--- a/pyproject.toml
+++ b/pyproject.toml
@@ -1 +1 @@
-x
+y
diff --git a/lib/site.pth b/lib/site.pth
new file mode 100644
--- /dev/null
+++ b/lib/site.pth
@@ -0,0 +1 @@
+import green
"""


def test_paths_include_both_sides_of_a_rename() -> None:
    assert "tests/test_old.py" in patch_paths(PATCH) and "tests/old_check.py" in patch_paths(PATCH)


def test_the_base_configuration_decides_what_a_test_file_is() -> None:
    base = {"pytest.ini": "[pytest]\npython_files = check_*.py test_*.py\n"}
    split = split_patch(PATCH, base.get)
    assert split.sources == ["src/app.py"]
    assert split.tests == [
        "checks/check_app.py",
        "tests/test_old.py",
        "tests/old_check.py",
        "tests/helpers.py",
    ]
    assert split.modules == ["checks/check_app.py", "tests/test_old.py"]
    assert split.config == ["pyproject.toml", "lib/site.pth"]
    default = split_patch(PATCH, {}.get)
    assert "checks/check_app.py" in default.sources and default.modules == ["tests/test_old.py"]
