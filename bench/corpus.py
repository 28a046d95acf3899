"""The corpus the set-up, installer and eval benchmarks run over: a folder of
`NAME.git.tar.gz` with a `manifest.jsonl` (one JSON object per repository: `name`,
`tarball`, `head`, ...). The project ships none: pass `--corpus DIR` or set
`PATCHBOT_CORPUS`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def add_corpus_argument(parser: argparse.ArgumentParser) -> None:
    configured = os.environ.get("PATCHBOT_CORPUS")
    parser.add_argument(
        "--corpus",
        type=Path,
        default=Path(configured) if configured else None,
        help="folder of NAME.git.tar.gz and manifest.jsonl (default: $PATCHBOT_CORPUS)",
    )


def read_manifest(corpus: Path | None, script: str) -> list[dict[str, Any]] | None:
    """The corpus's entries, or None after saying what is missing (the caller exits 2)."""
    if corpus is None or not (corpus / "manifest.jsonl").is_file():
        where = f"no manifest.jsonl in {corpus}" if corpus else "no corpus given"
        print(
            f"{script}: {where}: pass --corpus DIR (or set PATCHBOT_CORPUS) to a folder of "
            "NAME.git.tar.gz with its manifest.jsonl",
            file=sys.stderr,
        )
        return None
    lines = (corpus / "manifest.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]
