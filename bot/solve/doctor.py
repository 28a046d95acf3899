"""`patchbot setup doctor`: how a repository would be set up with nothing configured, each try
and its result, the tests collected and passed, and the `.github/patchbot.yml` that pins it."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.sandbox.models import TestReport
from bot.setup.model import SetupReport

EXIT_OK = 0
EXIT_NO_PLAN = 1


def register(subparsers: Any) -> None:
    setup = subparsers.add_parser("setup", help="how a repository's tests are set up")
    commands = setup.add_subparsers(dest="setup_command", metavar="COMMAND", required=True)
    doctor = commands.add_parser(
        "doctor",
        help="set a repository up as a run would, and show the plan, each try and the tests",
        description="Plans and runs the set-up of a commit in the sandbox (as `solve` and the "
        "server do, honouring .github/patchbot.yml), runs the tests once, and prints the "
        "plan's sources, each try, the tests collected and passed, the cache key and a "
        ".github/patchbot.yml snippet that pins what worked. Exit 0 when the suite collects "
        "and runs, 1 when no plan worked, 2 on usage errors.",
    )
    doctor.add_argument(
        "--repo", type=Path, default=Path("."), help="a git repository (default: .)"
    )
    doctor.add_argument("--commit", default="HEAD", help="the commit to set up (default: HEAD)")
    doctor.add_argument("--json", action="store_true", help="print the report as one JSON object")
    doctor.add_argument("--image", default=None, help="pin a sandbox image (default: by Python)")
    doctor.set_defaults(run=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    import asyncio

    from bot.errors import SetupFailed
    from bot.sandbox.docker import open_sandbox
    from bot.sandbox.local import local_sandbox
    from bot.sandbox.setup_gate import baseline_problem
    from bot.solve.checkout import GitError, git

    def show(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="patchbot-doctor-") as tmp:
        workspace = Path(tmp) / "workspace"
        try:
            commit = git(
                "rev-parse", "--verify", f"{args.commit}^{{commit}}", cwd=args.repo
            ).strip()
            git(
                "clone",
                "--quiet",
                "--no-hardlinks",
                "--no-checkout",
                str(args.repo.resolve()),
                str(workspace),
            )
            git("checkout", "--quiet", "--detach", commit, cwd=workspace)
        except (GitError, NotADirectoryError, FileNotFoundError) as error:
            raise ConfigError(
                f"--repo {args.repo} --commit {args.commit}: not a git repository with that "
                f"commit ({error})"
            ) from error
        config = local_sandbox(workspace, image=args.image)

        async def run() -> dict[str, Any]:
            try:
                async with open_sandbox(workspace, config, progress=show) as sandbox:
                    report = sandbox.setup_report or SetupReport(ok=True)
                    tests = await sandbox.run_tests()
            except SetupFailed as error:
                report = SetupReport.model_validate(error.report or {"error": str(error)})
                return _result(report, None, None, commit)
            return _result(report, tests, baseline_problem(tests), commit)

        result = asyncio.run(run())
    print(json.dumps(result, indent=2) if args.json else _text(result))
    return EXIT_OK if result["ok"] else EXIT_NO_PLAN


def _result(
    report: SetupReport, tests: TestReport | None, problem: str | None, commit: str
) -> dict[str, Any]:
    from bot.sandbox.setup_gate import collection_errors
    from bot.setup.snippet import snippet

    if problem:
        report.ok, report.error = False, problem
    return {
        "ok": bool(report.ok and tests is not None and problem is None),
        "commit": commit,
        "collected": len(tests.cases) if tests is not None else 0,
        "passed": tests.passed if tests is not None else 0,
        "failed": tests.failed if tests is not None else 0,
        "skipped": tests.skipped if tests is not None else 0,
        "errors": len(collection_errors(tests)) if tests is not None else 0,
        "error": report.error,
        "test_command": tests.command if tests is not None else None,
        "plan": {
            "sources": report.sources,
            "image": report.image,
            "installer": report.installer,
            "install": report.install.model_dump() if report.install else None,
            "test": report.test.model_dump() if report.test else None,
        },
        "tries": [t.model_dump() for t in report.tries],
        "cache_key": report.cache_key,
        "cached": report.cached,
        "seconds": report.seconds,
        "snippet": snippet(report),
    }


def _text(result: dict[str, Any]) -> str:
    plan = result["plan"]
    lines = [
        f"commit:    {result['commit'][:12]}",
        f"sources:   {', '.join(plan['sources']) or 'none'}",
        f"image:     {plan['image'] or '?'} ({plan['installer'] or '?'})",
        f"cache key: {result['cache_key'] or '-'}" + (" (reused)" if result["cached"] else ""),
        "tries:",
    ]
    for attempt in result["tries"]:
        lines.append(
            f"  {attempt['number']}. {attempt['rule']}: {attempt['outcome']} "
            f"({attempt['seconds']:.1f} s, {attempt['collected']} collected)"
        )
        lines += [f"       $ {command.splitlines()[-1][:160]}" for command in attempt["commands"]]
        if attempt["outcome"] != "ok":
            lines += [f"       ! {line[:200]}" for line in attempt["decisive"][-4:]]
    if result["test_command"]:
        lines.append(f"tests:     {result['test_command']}")
    lines.append(
        f"result:    {result['collected']} collected, {result['passed']} passed, "
        f"{result['failed']} failed, {result['skipped']} skipped, {result['errors']} errors"
    )
    if result["error"]:
        lines.append(f"problem:   {result['error']}")
    fits = "pins what worked" if result["ok"] else "is a start to fix it"
    lines += ["", f"# .github/patchbot.yml ({fits}):", result["snippet"]]
    return "\n".join(lines)
