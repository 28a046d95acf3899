"""The RunStore, once for both databases: each method runs the statements of
`bot.runs.statements` on a `Database` (`sqlite_db` or `postgres_db`). This module holds the
run state machine; `sql_intake` what the webhook side records."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from bot.runs import accounting_statements as accounting
from bot.runs import evals, flaky
from bot.runs import statements as sql
from bot.runs.models import (
    ActiveRunExists,
    Feedback,
    Hold,
    HoldDecision,
    LeaseLost,
    NewFeedback,
    NewRun,
    PullOpened,
    Run,
    RunCounts,
    RunNotFound,
    RunState,
)
from bot.runs.rows import (
    feedback_from_row,
    hold_from_row,
    new_feedback_values,
    new_run_values,
    opened_values,
    run_from_row,
)
from bot.runs.sql import Params, Session, UniqueViolation
from bot.runs.sql_outcomes import SQLOutcomeStore
from bot.runs.sql_views import SQLRunViews
from bot.runs.store import GAVE_UP, STOPPED_BY_REQUEST


class SQLRunStore(SQLOutcomeStore, SQLRunViews):
    """RunStore on a SQLite or PostgreSQL `Database`: what intake records (`SQLIntakeStore`),
    pull request outcomes (`SQLOutcomeStore`), and runs, their holds and their feedback; the
    dashboard's views (`SQLRunViews`)."""

    async def _run(self, session: Session, statement: str, params: Params) -> Run | None:
        row = await session.one(statement, params)
        return run_from_row(row) if row else None

    async def _runs(self, statement: str, params: Params) -> list[Run]:
        return [run_from_row(row) for row in await self._db.fetch(statement, params)]

    async def _held(self, statement: str, params: Params) -> Run:
        """A write to a run `params["worker"]` holds, in its own transaction; LeaseLost if it
        does not hold it."""
        async with self._db.transaction() as session:
            run = await self._run(session, statement, params)
        if run is None:
            raise LeaseLost(params["run_id"], params["worker"])
        return run

    # Runs

    async def create_run(self, new: NewRun) -> tuple[Run, bool]:
        try:
            async with self._db.transaction() as session:
                if new.delivery_id is not None:
                    existing = await self._run(session, sql.RUN_BY_DELIVERY, vars(new))
                    if existing is not None:
                        return existing, False
                active = await self._run(session, sql.ACTIVE_RUN, vars(new))
                if active is not None:
                    raise ActiveRunExists(active)
                params = {**new_run_values(new), "now": time.time()}
                run = await self._run(session, sql.CREATE_RUN, params)
        except UniqueViolation as error:  # another process created one meanwhile
            if new.delivery_id is not None:
                raced = await self._run(self._db, sql.RUN_BY_DELIVERY, vars(new))
                if raced is not None:
                    return raced, False
            active = await self.active_run(new.repository, new.issue)
            if active is None:  # it finished in between: the caller may simply try again
                raise
            raise ActiveRunExists(active) from error
        assert run is not None
        await self._db.announce_work()
        return run, True

    async def runs_ahead(self, run_id: int) -> int:
        row = await self._db.one(sql.RUNS_AHEAD, {"run_id": run_id, "now": time.time()})
        return int(row["ahead"]) if row else 0

    async def get_run(self, run_id: int) -> Run | None:
        return await self._run(self._db, sql.GET_RUN, {"run_id": run_id})

    async def list_runs(self, *, limit: int = 50, state: RunState | None = None) -> list[Run]:
        return await self._runs(
            sql.LIST_RUNS, {"state": state.value if state else None, "limit": limit}
        )

    async def active_run(self, repository: str, issue: int) -> Run | None:
        return await self._run(self._db, sql.ACTIVE_RUN, {"repository": repository, "issue": issue})

    async def run_counts(self) -> RunCounts:
        by_state = dict.fromkeys(RunState, 0)
        for row in await self._db.fetch(sql.RUNS_BY_STATE):
            by_state[RunState(row["state"])] = int(row["runs"])
        oldest = await self._db.one(sql.OLDEST_QUEUED)
        failed = await self._db.one(sql.FAILED_DELIVERIES)
        return RunCounts(
            by_state=by_state,
            oldest_queued_at=oldest["oldest"] if oldest else None,
            failed_deliveries=int(failed["failed"]) if failed else 0,
            pull_outcomes=await self._pull_outcome_counts(),
        )

    async def spent_since(
        self, since: float, repository: str, installation_id: int, *, excluding: int
    ) -> tuple[float, float]:
        params = {
            "since": since,
            "repository": repository,
            "installation_id": installation_id,
            "excluding": excluding,
        }
        row = await self._db.one(sql.SPENT_SINCE, params)
        assert row is not None
        return float(row["repository_usd"]), float(row["installation_usd"])

    async def latest_run(self, repository: str, issue: int) -> Run | None:
        return await self._run(self._db, sql.LATEST_RUN, {"repository": repository, "issue": issue})

    async def claim_run(
        self,
        worker: str,
        lease_seconds: float,
        max_attempts: int,
        *,
        per_repository: int = 0,
        per_installation: int = 0,
    ) -> Run | None:
        now = time.time()
        params = {
            "per_repository": per_repository,
            "per_installation": per_installation,
            "now": now,
            "worker": worker,
            "expires": now + lease_seconds,
            "max_attempts": max_attempts,
            "stopped": STOPPED_BY_REQUEST,
            "gave_up": GAVE_UP.format(attempts=max_attempts),
        }
        async with self._db.transaction() as session:
            if self._db.dialect.name == "postgresql":  # the caps hold: one claim at a time
                await session.execute(sql.LOCK_CLAIMS)
            await session.execute(sql.CANCEL_EXPIRED_STOPPED, params)
            await session.execute(sql.FAIL_EXPIRED_EXHAUSTED, params)
            await session.execute(sql.REPEAT_GIVEN_UP, params)
            return await self._run(session, sql.CLAIM_RUN, params)

    async def heartbeat(self, run_id: int, worker: str, lease_seconds: float) -> Run:
        now = time.time()
        params = {"run_id": run_id, "worker": worker, "now": now, "expires": now + lease_seconds}
        return await self._held(sql.HEARTBEAT, params)

    async def finish_run(
        self,
        run_id: int,
        worker: str,
        state: RunState,
        summary: str = "",
        cost_usd: float | None = 0.0,
    ) -> Run:
        params = {
            "run_id": run_id,
            "worker": worker,
            "state": state.value,
            "summary": summary,
            "cost": cost_usd,
            "now": time.time(),
        }
        async with self._db.transaction() as session:
            run = await self._run(session, sql.FINISH_RUN, params)
            if run is None:
                raise LeaseLost(run_id, worker)
            if run.repeat_seconds is not None:  # the schedule goes on in the same transaction
                await session.execute(sql.REPEAT_RUN, params)
        return run

    async def hold_run(
        self,
        run_id: int,
        worker: str,
        content: str,
        summary: str = "",
        cost_usd: float | None = 0.0,
    ) -> Run:
        params = {
            "run_id": run_id,
            "worker": worker,
            "content": content,
            "summary": summary,
            "cost": cost_usd,
            "stopped": STOPPED_BY_REQUEST,
            "now": time.time(),
        }
        async with self._db.transaction() as session:
            run = await self._run(session, sql.HOLD_RUN, params)
            if run is None:
                raise LeaseLost(run_id, worker)
            await session.execute(sql.HOLD, params)
        return run

    async def keep_hold(self, run_id: int, worker: str, content: str) -> None:
        params = {"run_id": run_id, "worker": worker, "content": content, "now": time.time()}
        async with self._db.transaction() as session:
            if await session.one(sql.LOCK_HELD_RUN, params) is None:
                raise LeaseLost(run_id, worker)
            await session.execute(sql.KEEP_HOLD, params)

    async def get_hold(self, run_id: int) -> Hold | None:
        row = await self._db.one(sql.GET_HOLD, {"run_id": run_id})
        return hold_from_row(row) if row else None

    async def previous_run(self, repository: str, issue: int, run_id: int) -> Run | None:
        params = {"repository": repository, "issue": issue, "run_id": run_id}
        return await self._run(self._db, sql.PREVIOUS_RUN, params)

    async def decide(self, run_id: int, login: str, decision: HoldDecision) -> Run:
        now = time.time()
        approved = decision == "approved"
        params = {
            "run_id": run_id,
            "login": login,
            "decision": decision,
            # Approved queues the run again (a worker resumes it); rejected cancels it.
            "state": (RunState.QUEUED if approved else RunState.CANCELLED).value,
            "summary": f"{decision} by @{login}",
            "finished": None if approved else now,
            "now": now,
        }
        async with self._db.transaction() as session:
            run = await self._run(session, sql.DECIDE_RUN, params)
            if run is None:
                raise RunNotFound(f"run {run_id} is not waiting for an approval")
            await session.execute(sql.DECIDE_HOLD, params)
        return run

    async def cancel_run(self, run_id: int) -> Run:
        params = {"run_id": run_id, "stopped": STOPPED_BY_REQUEST, "now": time.time()}
        async with self._db.transaction() as session:
            # The run locked: a worker cannot hold or finish it in between.
            await session.one(sql.LOCK_RUN, params)
            run = await self._run(session, sql.CANCEL_WAITING_RUN, params) or await self._run(
                session, sql.FLAG_RUNNING_RUN, params
            )
            if run is None:
                run = await self._run(session, sql.GET_RUN, params)
        if run is None:
            raise RunNotFound.missing(run_id)
        return run

    async def postpone_run(self, run_id: int, not_before: float) -> Run | None:
        params = {"run_id": run_id, "not_before": not_before, "now": time.time()}
        async with self._db.transaction() as session:
            return await self._run(session, sql.POSTPONE_RUN, params)

    async def record_pull_request(
        self, run_id: int, url: str, opened: PullOpened | None = None
    ) -> None:
        params = {"run_id": run_id, "url": url, "now": time.time()}
        async with self._db.transaction() as session:
            await session.execute(sql.RECORD_PULL_REQUEST, params)
            if opened is not None:
                await session.execute(accounting.OPEN_OUTCOME, {**params, **opened_values(opened)})

    async def pull_runs(self, repository: str, pull_request: int) -> list[Run]:
        return await self._runs(
            sql.PULL_RUNS, {"repository": repository, "pull_request": pull_request}
        )

    # Flaky tests

    async def remember_flaky(
        self, repository: str, commit: str, tests: Mapping[str, Sequence[str]]
    ) -> None:
        await flaky.remember(self._db, repository, commit, tests)

    async def known_flaky(self, repository: str) -> list[flaky.FlakyTest]:
        return await flaky.known(self._db, repository)

    # Scheduled evaluations

    async def keep_eval(self, record: evals.EvalRecord) -> None:
        await evals.keep(self._db, record)

    async def eval_history(self, repository: str, limit: int = 2) -> list[evals.EvalRecord]:
        return await evals.history(self._db, repository, limit)

    async def latest_evals(self) -> list[evals.EvalRecord]:
        return await evals.latest(self._db)

    # Feedback on Patchbot's pull requests

    async def add_feedback(self, item: NewFeedback) -> bool:
        return await self._db.execute(sql.ADD_FEEDBACK, new_feedback_values(item)) == 1

    async def take_feedback(
        self, run_id: int, repository: str, pull_request: int
    ) -> list[Feedback]:
        params = {"run_id": run_id, "repository": repository, "pull_request": pull_request}
        async with self._db.transaction() as session:
            if await session.one(sql.GET_RUN, params) is None:
                raise RunNotFound.missing(run_id)
            await session.execute(sql.TAKE_FEEDBACK, params)
            rows = await session.fetch(sql.RUN_FEEDBACK, params)
        return [feedback_from_row(row) for row in rows]

    async def pending_feedback(self, repository: str, pull_request: int) -> list[Feedback]:
        params = {"repository": repository, "pull_request": pull_request}
        rows = await self._db.fetch(sql.PENDING_FEEDBACK, params)
        return [feedback_from_row(row) for row in rows]
