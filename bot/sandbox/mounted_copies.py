"""Patchbot's own files that sandboxes mount read-only (the judge, the host's CA bundle), as
copies under the temp dir. The Docker Engine resolves a bind mount on its own machine: when
Patchbot runs in a container beside it (the stack of `deploy/`), its install folder exists only
inside that container, while its temp dir (`TMPDIR`, under the shared `PATCHBOT_HOST_DIR`) is
seen by the engine at the same path."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bot.sandbox.disk import private_folder
from bot.sandbox.images import tree_digest


def mounted_copy(source: Path) -> Path:
    """A copy of the file or folder `source` that the engine can mount, made once per content
    (a changed source gets a new copy), readable by the sandbox's user."""
    target = private_folder("patchbot-mounts") / f"{source.name}-{tree_digest(source)[:16]}"
    if target.exists():
        return target
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    if source.is_dir():
        shutil.copytree(source, staging, ignore=shutil.ignore_patterns("__pycache__"))
        for path in [staging, *staging.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    else:
        shutil.copyfile(source, staging)
        staging.chmod(0o644)
    try:
        staging.rename(target)
    except OSError:  # another process made it meanwhile
        if staging.is_dir():
            shutil.rmtree(staging, ignore_errors=True)
        else:
            staging.unlink(missing_ok=True)
    return target
