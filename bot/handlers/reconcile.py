"""Outcomes a missed delivery left open, filled in from the REST API: each pull request
recorded as open is read again (merged or closed, when, by whom), and other apps' checks on
its first push when none reported. `patchbot outcomes reconcile` runs it."""

from __future__ import annotations

from bot.github.payloads import CheckRun, PullRequest
from bot.handlers.dispatcher import GitHubFactory
from bot.handlers.outcomes import ci_result, closed_outcome
from bot.runs.models import PullOutcome
from bot.runs.store import RunStore
from bot.settings import Settings


async def reconcile_outcomes(
    store: RunStore, github: GitHubFactory, settings: Settings, *, repository: str | None = None
) -> list[PullOutcome]:
    """Read every pull request recorded as open again and record what the webhooks missed;
    the outcomes that changed, as now recorded."""
    changed: set[tuple[str, int]] = set()
    for outcome in await store.pull_outcomes(repository=repository, state="open"):
        if outcome.installation_id is None:
            continue  # no installation to ask as (a pull request only a webhook told of)
        gh = await github(outcome.installation_id)
        name, number = outcome.repository, outcome.pull_request
        if outcome.ci_first_push is None and outcome.first_head_sha:
            found = await gh.getitem(f"/repos/{name}/commits/{outcome.first_head_sha}/check-runs")
            for item in found.get("check_runs", []):
                check = CheckRun.model_validate(item)
                result = ci_result(check, settings)
                if result:
                    changed.add((name, number))
                    await store.record_ci(name, check.head_sha, result)
        pull = PullRequest.model_validate(await gh.getitem(f"/repos/{name}/pulls/{number}"))
        if pull.state == "closed":
            changed.add((name, number))
            closed = closed_outcome(pull, name, outcome.issue, outcome.installation_id, None)
            await store.record_closed(closed)
    now = await store.pull_outcomes(repository=repository)
    return [outcome for outcome in now if (outcome.repository, outcome.pull_request) in changed]
