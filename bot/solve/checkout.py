"""The checkouts of one solve run: the agent's, fresh ones for verification, and the patch.

The repository at PATH is only ever read: its HEAD is cloned (without hard links, since the
sandbox takes ownership of the files it gets). The git data Patchbot trusts lives outside
every sandbox's view; the agent's own `.git` is never read by the host.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from bot.errors import ConfigError, PatchbotError

# Never run hooks or an fsmonitor, and accept checkouts the sandbox's user owns.
_SAFE = ("-c", "safe.directory=*", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")
# Files the tests and tools leave behind that are no part of a patch.
_EXCLUDE = """\
__pycache__/
*.py[cod]
.pytest_cache/
.mypy_cache/
.ruff_cache/
*.egg-info/
.coverage
*.patchbot-edit
"""


class GitError(PatchbotError, RuntimeError):
    """A git command failed."""


def git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", *_SAFE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
        check=False,
    )
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def head_commit(repo: Path) -> str:
    """The commit at HEAD of the repository at `repo`; ConfigError when there is none."""
    try:
        return git("rev-parse", "--verify", "HEAD^{commit}", cwd=repo).strip()
    except (GitError, NotADirectoryError, FileNotFoundError) as error:
        raise ConfigError(
            f"--repo {repo} is not a git repository with a commit; commit your code first"
        ) from error


class Checkouts:
    """Clones of one repository's HEAD under `root`, which the caller owns and removes."""

    def __init__(self, repo: Path, root: Path) -> None:
        self.repo = repo.resolve()
        self.root = root
        self.trusted = root / "trusted.git"
        self.work = root / "work"
        self.base = head_commit(self.repo)
        git("clone", "--quiet", "--bare", "--no-hardlinks", str(self.repo), str(self.trusted))
        (self.trusted / "info").mkdir(exist_ok=True)
        (self.trusted / "info" / "exclude").write_text(_EXCLUDE)
        self.fresh(self.work)

    def fresh(self, path: Path, commit: str | None = None) -> Path:
        """A new checkout of the base commit (or of `commit`, an ancestor of it) at `path`."""
        git("clone", "--quiet", "--no-hardlinks", "--no-checkout", str(self.trusted), str(path))
        git("checkout", "--quiet", "--detach", commit or self.base, cwd=path)
        return path

    def diff(self) -> str:
        """The agent's changes as a binary-safe patch against the base, new files included."""
        index = self.root / "patch.index"
        index.unlink(missing_ok=True)
        env = {"GIT_INDEX_FILE": str(index)}
        tree = ("--git-dir", str(self.trusted), "--work-tree", str(self.work))
        git(*tree, "read-tree", self.base, env=env)
        git(*tree, "add", "--all", ".", env=env)
        return git(*tree, "diff", "--cached", "--binary", self.base, env=env)

    def candidate(
        self,
        name: str,
        patch: str,
        *,
        include: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
    ) -> Path:
        """A fresh checkout with `patch` applied, for verification (see `apply`)."""
        return self.apply(self.fresh(self.root / name), patch, include=include, exclude=exclude)

    def apply(
        self,
        path: Path,
        patch: str,
        *,
        include: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
    ) -> Path:
        """`patch` applied to the fresh checkout at `path`: only the files in `include` where
        given, never those in `exclude` (which keep the base's content). Git reads its
        configuration from the trusted repository, not from `path/.git`, which a sandbox may
        have seen (a filter configured there would run on the host)."""
        if include is not None and not include:
            return path
        patch_file = path.with_name(f"{path.name}.diff")
        patch_file.write_text(patch)
        only = [f"--include={_literal(p)}" for p in include or ()]
        never = [f"--exclude={_literal(p)}" for p in exclude]
        trusted = ("--git-dir", str(self.trusted), "--work-tree", str(path))
        options = ("--binary", "--whitespace=nowarn", *never, *only)
        git(*trusted, "apply", *options, str(patch_file), cwd=path)
        return path

    def read_base(self, path: str) -> str | None:
        """A file's text at the base commit, or None where it has none (or is not text)."""
        try:
            return git("--git-dir", str(self.trusted), "show", f"{self.base}:{path}")
        except (GitError, UnicodeDecodeError):
            return None


def _literal(path: str) -> str:
    """A path as a `git apply --include/--exclude` pattern that matches only itself."""
    return "".join(f"[{c}]" if c in "*?[]\\" else c for c in path)
