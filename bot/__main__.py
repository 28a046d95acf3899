"""The `patchbot` command line. Each area registers its own subcommands; heavy imports wait
until a command runs, so `patchbot --help` stays fast."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from bot.errors import PatchbotError

# Modules with a `register(subparsers)` function, in the order `--help` lists them.
COMMAND_MODULES = (
    "bot.sandbox.cli",
    "bot.setup.cli",
    "bot.web.cli",
    "bot.runs.cli",
    "bot.solve.cli",
    "bot.agent.cli",
    "bot.testing.demo",
    "bot.policy.cli",
)

EXIT_ERROR = 2
"""Exit status for usage, configuration and environment errors (as argparse uses)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="patchbot",
        description="Turns GitHub issues into tested pull requests, in a hardened sandbox.",
    )
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "WARNING"))
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _with_delivery_id(record: logging.LogRecord) -> bool:
    """Log lines about a webhook carry its delivery id (`extra=`); the others show `-`."""
    if not hasattr(record, "delivery_id"):
        record.delivery_id = "-"
    return True


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    rest: list[str] = []
    if "--" in words:  # `patchbot sandbox exec PATH -- CMD...`: CMD is never parsed as options
        split = words.index("--")
        words, rest = words[:split], words[split + 1 :]
    parser = build_parser()
    args = parser.parse_args(words)
    if rest and not getattr(args, "takes_command", False):
        parser.error(f"unexpected arguments after --: {' '.join(rest)}")
    args.rest = rest
    handler = logging.StreamHandler()
    handler.addFilter(_with_delivery_id)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s [%(delivery_id)s]: %(message)s",
        handlers=[handler],
    )
    try:
        status: int = args.run(args)
    except PatchbotError as error:
        print(f"patchbot: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
