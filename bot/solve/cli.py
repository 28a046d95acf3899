"""`patchbot solve`: an issue in, a verified patch out, for a local repository."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from bot.errors import ConfigError

EXIT_VERIFIED = 0
EXIT_NOT_VERIFIED = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "solve",
        help="turn an issue into a verified patch for a local repository",
        description="Clone the repository's HEAD, let the agent fix the issue in the sandbox, "
        "verify with the test suite, and write patch.diff, report.md and trace.jsonl. "
        "Exit 0: verified patch; 1: none (report.md says why); 2: usage or configuration.",
    )
    parser.add_argument("--repo", required=True, type=Path, help="a local git repository")
    issue = parser.add_mutually_exclusive_group(required=True)
    issue.add_argument("--issue", help="the issue: first line is the title, the rest its body")
    issue.add_argument("--issue-file", type=Path, help="a file holding the issue, same format")
    parser.add_argument("--instructions", default="", help="extra guidance for the agent")
    parser.add_argument(
        "--model", default=None, help="a litellm model string (default: $PATCHBOT_MODEL)"
    )
    parser.add_argument(
        "--api-base",
        default=None,
        help="base URL of an OpenAI-compatible model server (default: $PATCHBOT_MODEL_API_BASE)",
    )
    parser.add_argument("--out", type=Path, default=Path("patchbot-out"), help="output folder")
    parser.add_argument("--image", default=None, help="pin a sandbox image (default: by Python)")
    parser.add_argument("--max-steps", type=int, default=None, help="most model calls")
    parser.add_argument("--cost-limit", type=float, default=None, help="US dollars, 0 = none")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds of wall time")
    parser.add_argument("--max-attempts", type=int, default=None, help="candidates verified")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.set_defaults(run=run)


def _issue(args: argparse.Namespace) -> tuple[str, str]:
    if args.issue_file is not None:
        try:
            text = args.issue_file.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"cannot read --issue-file {args.issue_file}: {error}") from error
    else:
        text = args.issue
    title, _, body = text.strip().partition("\n")
    if not title.strip():
        raise ConfigError("the issue is empty; pass its text with --issue or --issue-file")
    return title.strip(), body.strip()


def run(args: argparse.Namespace) -> int:
    import asyncio

    from pydantic import ValidationError

    from bot.agent.limits import AgentLimits
    from bot.agent.loop import ProgressEvent, progress_line
    from bot.agent.model import configured_model
    from bot.sandbox.local import local_sandbox
    from bot.solve.checkout import head_commit
    from bot.solve.report import render_report
    from bot.solve.request import SolveRequest
    from bot.solve.solver import solve
    from bot.solve.verify import VerifyConfig
    from bot.trace import Redactor, Trace

    settings = args.settings
    model = configured_model(settings, model=args.model, api_base=args.api_base)
    title, body = _issue(args)
    overrides = {
        "max_steps": args.max_steps,
        "cost_limit": args.cost_limit,
        "time_limit": args.time_limit,
    }
    try:
        request = SolveRequest(
            repo=args.repo,
            issue_title=title,
            issue_body=body,
            instructions=args.instructions,
            model=model,
            sandbox=local_sandbox(args.repo, image=args.image),
            limits=AgentLimits(**{k: v for k, v in overrides.items() if v is not None}),
            verify=VerifyConfig(
                **({"max_attempts": args.max_attempts} if args.max_attempts else {})
            ),
        )
    except ValidationError as error:
        raise ConfigError(f"invalid option: {error}") from error

    started = time.monotonic()

    def show(event: ProgressEvent) -> None:
        print(progress_line(time.monotonic() - started, event.text), file=sys.stderr, flush=True)

    head_commit(args.repo)  # fail before writing anything
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "trace.jsonl").unlink(missing_ok=True)
    with Trace(out / "trace.jsonl", Redactor(settings.secrets())) as trace:
        result = asyncio.run(solve(request, trace=trace, progress=None if args.quiet else show))
    (out / "patch.diff").write_text(result.patch)
    (out / "report.md").write_text(render_report(request, result))
    if not args.quiet:
        verdict = "verified patch" if result.verified else "no verified patch"
        took = f"in {time.monotonic() - started:.1f} s, cost {result.stats.cost_text()}"
        print(f"{verdict} ({took}): {result.detail}; see {out}/report.md", file=sys.stderr)
    return EXIT_VERIFIED if result.verified else EXIT_NOT_VERIFIED
