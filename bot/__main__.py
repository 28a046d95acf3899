"""The `patchbot` command line. Each area registers its own subcommands; heavy imports wait
until a command runs, so `patchbot --help` stays fast."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bot.errors import PatchbotError

# Modules with a `register(subparsers)` function, in the order `--help` lists them.
COMMAND_MODULES = (
    "bot.sandbox.cli",
    "bot.setup.cli",
    "bot.web.cli",
    "bot.web.deliveries_cli",
    "bot.runs.cli",
    "bot.solve.cli",
    "bot.agent.cli",
    "bot.testing.demo",
    "bot.policy.cli",
    "bot.eval.cli",
    "bot.kpi.cli",
)

EXIT_ERROR = 2
"""Exit status for usage, configuration and environment errors (as argparse uses)."""
SERVICES = ("serve", "worker")
"""Commands that run until stopped: they log at INFO unless told otherwise; the others, whose
own output says what happens, at WARNING."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="patchbot",
        description="Turns GitHub issues into tested pull requests, in a hardened sandbox.",
    )
    parser.add_argument(
        "--log-level",
        type=_log_level,
        default=None,
        help="DEBUG, INFO, WARNING or ERROR (default: $LOG_LEVEL, else INFO for serve and "
        "worker, WARNING for the other commands)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _log_level(value: str) -> str:
    from bot.settings import LOG_LEVELS

    if value.upper() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
    return value.upper()


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
    try:
        _read_settings(args)
        status: int = args.run(args)
    except PatchbotError as error:
        print(f"patchbot: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    return status


def _read_settings(args: argparse.Namespace) -> None:
    """Read the environment once, for every command: a bad variable stops the command with
    every problem in one message. Then configure logging from it (`--log-level` wins)."""
    from bot.logs import configure_logging
    from bot.settings import Settings

    args.settings = Settings.from_env()
    default = "INFO" if args.command in SERVICES else "WARNING"
    level = args.log_level or args.settings.log_level or default
    configure_logging(level, args.settings.log_format, args.settings.secrets())


if __name__ == "__main__":
    sys.exit(main())
