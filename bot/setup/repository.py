"""Facts about the checkout that git knows: the date of the commit being set up."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path


def commit_date(workspace: Path) -> datetime | None:
    """The committer date of HEAD in the checkout at `workspace`, or None without git."""
    try:
        done = subprocess.run(
            ["git", "-c", "safe.directory=*", "-c", "core.fsmonitor=false", "log", "-1",
             "--format=%cI", "HEAD"],
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )  # fmt: skip
        return datetime.fromisoformat(done.stdout.strip()) if done.returncode == 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
