"""`patchbot report` (KPIs, exceptions, staged autonomy), `patchbot audit export` and
`patchbot outcomes reconcile`."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from typing import Any

from bot.errors import ConfigError

DURATION = re.compile(r"(\d+)([dhm])")
SECONDS = {"d": 86400, "h": 3600, "m": 60}


def period(text: str) -> float:
    """`30d`, `12h` or `90m` as seconds; ConfigError for anything else."""
    match = DURATION.fullmatch(text.strip())
    if match is None:
        raise ConfigError(f"--since {text}: give a number of days, hours or minutes: 30d, 12h, 90m")
    return int(match.group(1)) * SECONDS[match.group(2)]


def register(subparsers: Any) -> None:
    report = subparsers.add_parser("report", help="KPIs, exceptions and autonomy of a period")
    report.add_argument("--since", default="30d", help="period: 30d, 12h, 90m (default 30d)")
    report.add_argument("--repo", help="only this repository (owner/name)")
    report.add_argument("--format", choices=("md", "html", "json"), default="md")
    report.add_argument("--exceptions", action="store_true", help="add the exceptions review")
    report.add_argument("--hours-per-refused-candidate", type=float, default=1.0)
    report.add_argument("--hours-per-bot-revision", type=float, default=0.5)
    report.set_defaults(run=_report)
    audit = subparsers.add_parser("audit", help="the audit log of high-impact actions")
    commands = audit.add_subparsers(dest="audit_command", metavar="COMMAND", required=True)
    export = commands.add_parser("export", help="print the audit log as JSON lines or CSV")
    export.add_argument("--since", default="30d")
    export.add_argument("--repo")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.set_defaults(run=_audit)
    outcomes = subparsers.add_parser("outcomes", help="pull request outcomes")
    verbs = outcomes.add_subparsers(dest="outcomes_command", metavar="COMMAND", required=True)
    reconcile = verbs.add_parser("reconcile", help="read open pull requests again from GitHub")
    reconcile.add_argument("--repo")
    reconcile.set_defaults(run=_reconcile)


async def _records(args: argparse.Namespace, *, baseline: bool = False) -> tuple[Any, float, float]:
    from bot.kpi.records import load_records
    from bot.runs.store import opened_store

    until = time.time()
    since = until - period(args.since)
    async with opened_store(args.settings.database_url) as store:
        records = await load_records(store, args.settings.data_dir, since, args.repo)
        if baseline and await _refresh_baselines(args.settings, store, records.runs):
            records.baselines = await store.baselines()
    return records, since, until


async def _refresh_baselines(settings: Any, store: Any, runs: list[Any]) -> bool:
    """Fetch people's cycle time from GitHub when the App's settings are given; say on
    stderr why there is no baseline otherwise. True when fetched."""
    import aiohttp
    import gidgethub

    from bot.github.app import github_app
    from bot.kpi.baseline import refresh_baselines

    try:
        settings.require_app_credentials()
    except ConfigError:
        print(
            "no baseline: APP_ID and PRIVATE_KEY are not set, GitHub is not asked", file=sys.stderr
        )
        return False
    try:
        async with github_app(settings) as app:
            skipped = await refresh_baselines(store, app.installation_api, runs, settings.bot_login)
    except (gidgethub.HTTPException, aiohttp.ClientError) as error:
        print(
            f"no new baseline: GitHub could not be asked ({error}); the last kept one is used",
            file=sys.stderr,
        )
        return False
    for repository in skipped:
        print(
            f"no baseline for {repository}: none of its runs has an installation", file=sys.stderr
        )
    return True


def _report(args: argparse.Namespace) -> int:
    from bot.kpi.autonomy import autonomy_track
    from bot.kpi.baseline import baseline_seconds
    from bot.kpi.compute import Assumptions, compute_kpis
    from bot.kpi.governance import exceptions_review
    from bot.kpi.render import RENDERERS

    records, since, until = asyncio.run(_records(args, baseline=True))
    assumptions = Assumptions(
        hours_per_refused_candidate=args.hours_per_refused_candidate,
        hours_per_bot_revision=args.hours_per_bot_revision,
    )
    names = [args.repo] if args.repo else [run.repository for run in records.runs]
    baseline = baseline_seconds(records.baselines, names)
    report = compute_kpis(records, since, until, args.repo, assumptions, baseline)
    exceptions = exceptions_review(records, since, until) if args.exceptions else None
    sys.stdout.write(RENDERERS[args.format](report, exceptions, autonomy_track(records)))
    return 0


def _audit(args: argparse.Namespace) -> int:
    from bot.kpi.governance import audit_csv, audit_jsonl, audit_log

    records, since, _ = asyncio.run(_records(args))
    entries = [e for e in audit_log(records, args.settings.bot_login) if e.at >= since]
    sys.stdout.write((audit_csv if args.format == "csv" else audit_jsonl)(entries))
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    from bot.github.app import github_app, require_app_key
    from bot.handlers.reconcile import reconcile_outcomes
    from bot.runs.store import opened_store

    settings = args.settings
    require_app_key(settings)

    async def work() -> list[Any]:
        async with opened_store(settings.database_url) as store, github_app(settings) as app:
            return await reconcile_outcomes(
                store, app.installation_api, settings, repository=args.repo
            )

    for outcome in asyncio.run(work()):
        print(f"{outcome.repository}#{outcome.pull_request}: {outcome.state}")
    return 0
