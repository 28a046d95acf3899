"""`patchbot sandbox ...` and `patchbot images ...`: run a repository's code in the sandbox."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    sandbox = subparsers.add_parser("sandbox", help="run a repository's tests or a command")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    images = subparsers.add_parser("images", help="build the sandbox images")
    images_commands = images.add_subparsers(dest="images_command", required=True)
    del sandbox_commands, images_commands


def _unused(args: argparse.Namespace) -> int:  # replaced as the commands land
    return 0
