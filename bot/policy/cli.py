"""`patchbot policy check`: validate a server policy and a repository's `.github/patchbot.yml`,
and print the policy a run on that repository would get."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    policy = subparsers.add_parser("policy", help="check policies and print the effective one")
    commands = policy.add_subparsers(dest="policy_command", metavar="COMMAND", required=True)
    check = commands.add_parser(
        "check",
        help="validate and print the effective policy (server policy + .github/patchbot.yml)",
        description="Validates the server policy and the repository's .github/patchbot.yml, "
        "then prints the effective policy as YAML, with any repository setting that was "
        "refused because it would loosen the server policy. Exit 0 valid, 2 invalid.",
    )
    check.add_argument(
        "--repo", type=Path, help="a checkout whose .github/patchbot.yml to merge in"
    )
    check.add_argument(
        "--policy",
        type=Path,
        help="server policy file (default: $PATCHBOT_POLICY, else policies/default.yml)",
    )
    check.set_defaults(run=_check)


def _check(args: argparse.Namespace) -> int:
    import yaml

    from bot.errors import ConfigError
    from bot.policy.load import (
        REPO_POLICY_PATH,
        default_policy_path,
        effective_policy,
        load_policy_file,
    )

    source = args.policy or default_policy_path()
    server = load_policy_file(source)
    if args.repo is not None and not args.repo.is_dir():
        raise ConfigError(f"--repo {args.repo} is not a folder; give a repository checkout")
    merged = effective_policy(server, args.repo)
    sources = [str(source)]
    if args.repo is not None:
        sources.append(str(args.repo / REPO_POLICY_PATH))
    print(f"# Effective policy from {' + '.join(sources)}")
    for note in merged.notes:
        print(f"# refused: {note}")
    print(yaml.safe_dump(merged.policy.model_dump(mode="json"), sort_keys=False), end="")
    return 0
