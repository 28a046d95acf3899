"""The runs that prove a candidate, each in a fresh sandbox with the base commit's test
configuration, made concurrently and only where they can change the verdict:

- the candidate (its configuration files left as the base has them);
- without the fix: the base source with the candidate's test changes, only its changed test
  modules (a test that only sometimes fails there proves nothing);
- the base's tests on the fix: the base's test files with the candidate's source changes, only
  the tests that failed on the base. Without test changes the candidate run is this run.

In each, a failing test runs again (`VerifyConfig.reruns`) in the same process: a test whose
outcome changes is flaky, never fixed, broken or proven. The sandboxes may be opened ahead,
on fresh checkouts of the base before the agent works; the patch is applied to them when it is
known, before anything runs in them.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager

from bot.sandbox.config import SandboxConfig
from bot.sandbox.models import Outcome, TestReport
from bot.sandbox.protocol import Sandbox
from bot.sandbox.testrun import SYNTHETIC_ID
from bot.solve.ahead import OpenedAhead
from bot.solve.checkout import Checkouts, GitError
from bot.solve.integrity import findings
from bot.solve.split import Split, split_patch
from bot.solve.verify import Runs, SandboxOpener, Verification, VerifyConfig, judge

log = logging.getLogger(__name__)

_FAILING = (Outcome.FAILED, Outcome.ERROR)


def collapse(report: TestReport) -> tuple[TestReport, dict[str, list[Outcome]]]:
    """A report run with reruns, as one case per test (its first run), and the tests whose
    outcome changed between runs, with every outcome seen."""
    seen: dict[str, list[Outcome]] = {}
    first = []
    for case in report.cases:
        if case.id not in seen:
            first.append(case)
        seen.setdefault(case.id, []).append(case.outcome)
    flaky = {test_id: outcomes for test_id, outcomes in seen.items() if len(set(outcomes)) > 1}
    return report.model_copy(update={"cases": first}), flaky


class Proof:
    """The runs of one candidate patch against the base commit's `baseline`."""

    def __init__(
        self,
        checkouts: Checkouts,
        sandbox: SandboxConfig,
        config: VerifyConfig,
        open_sandbox: SandboxOpener,
    ) -> None:
        self.checkouts = checkouts
        self.sandbox = sandbox
        self.config = config
        self.open_sandbox = open_sandbox
        self._opening: dict[str, asyncio.Task[OpenedAhead | None]] = {}

    def open_ahead(self, name: str, baseline: TestReport | None = None) -> None:
        """Start opening, in the background, the sandboxes that `verify(name, ...)` may use
        and that are not opening yet: the candidate's and the one without its fix; given the
        `baseline`, the one with the base's tests when a test failed on the base. `verify`
        closes those it does not need, `close_ahead` any left (on every way out)."""
        names = [name, f"{name}-without-fix"]
        if baseline is not None and _failing(baseline):
            names.append(f"{name}-base-tests")
        for each in names:
            if each not in self._opening:
                self._opening[each] = asyncio.create_task(self._open(each))

    async def _open(self, name: str) -> OpenedAhead | None:
        try:
            tree = await asyncio.to_thread(self.checkouts.fresh, self.checkouts.root / name)
        except (GitError, OSError) as error:  # verification makes its checkout then
            log.warning("no sandbox opened ahead of verification for %s: %s", name, error)
            return None
        return OpenedAhead(self.open_sandbox, tree, self.sandbox, edits=True)

    async def _ahead(self, name: str) -> OpenedAhead | None:
        opening = self._opening.get(name)
        return None if opening is None else await asyncio.shield(opening)

    async def _not_needed(self, name: str) -> None:
        ahead = await self._ahead(name)
        if ahead is not None:
            await ahead.close()

    async def close_ahead(self) -> None:
        """Close the sandboxes opened ahead (those used are closed already)."""
        for name in self._opening:
            await self._not_needed(name)

    async def verify(
        self,
        name: str,
        patch: str,
        baseline: TestReport,
        flaky: dict[str, list[Outcome]] | None = None,
    ) -> tuple[Verification, Split]:
        """The verdict on `patch`; `flaky` are tests known to be flaky (the base's reruns, the
        repository's memory). The verdict's `flaky` holds those this verification saw."""
        split = await asyncio.to_thread(split_patch, patch, self.checkouts.read_base)
        failing = _failing(baseline)
        candidate, without_fix, on_fix = await asyncio.gather(
            self._run(name, patch, {"exclude": split.config}, None),
            self._without_fix(name, patch, split),
            self._base_tests(name, patch, split, baseline, failing),
        )
        seen = {**candidate[1], **(without_fix[1] if without_fix else {}), **on_fix[1]}
        runs = Runs(
            baseline=baseline,
            candidate=candidate[0],
            tests_only=without_fix[0] if without_fix else None,
            source_only=on_fix[0],
            test_files=split.tests,
            flaky={**(flaky or {}), **seen},
        )
        verification = judge(runs, self.config)
        verification.flaky = seen
        verification.findings = await asyncio.to_thread(
            findings, patch, split, verification, self.checkouts.read_base
        )
        return verification, split

    async def _run(
        self, name: str, patch: str, apply: dict[str, list[str]], paths: list[str] | None
    ) -> tuple[TestReport, dict[str, list[Outcome]]]:
        """One run on a checkout of `patch` (`apply`: include/exclude) of `paths` (those that
        exist there) or of all tests, each failure run again in the same process; in the
        sandbox opened ahead for `name` where there is one."""
        ahead = await self._ahead(name)
        opening: AbstractAsyncContextManager[Sandbox]
        if ahead is None:
            tree = await asyncio.to_thread(self.checkouts.candidate, name, patch, **apply)
            opening = self.open_sandbox(tree, self.sandbox)
        else:
            tree = await asyncio.to_thread(self.checkouts.apply, ahead.workspace, patch, **apply)
            opening = ahead
        if paths is not None:
            paths = [p for p in paths if "::" in p or (tree / p).is_file()]
            if not paths:
                await self._not_needed(name)
                return TestReport(command="", exit_code=0, duration=0.0), {}
        async with opening as sandbox:
            report = await sandbox.run_tests(paths or (), reruns=self.config.reruns)
        return collapse(report)

    async def _without_fix(
        self, name: str, patch: str, split: Split
    ) -> tuple[TestReport, dict[str, list[Outcome]]] | None:
        if not split.modules:
            await self._not_needed(f"{name}-without-fix")
            return None
        apply = {"include": split.tests}
        return await self._run(f"{name}-without-fix", patch, apply, split.modules)

    async def _base_tests(
        self, name: str, patch: str, split: Split, baseline: TestReport, failing: list[str]
    ) -> tuple[TestReport | None, dict[str, list[Outcome]]]:
        if split.tests and failing and split.sources:
            apply = {"exclude": [*split.tests, *split.config]}
            return await self._run(f"{name}-base-tests", patch, apply, failing)
        await self._not_needed(f"{name}-base-tests")
        if not split.tests or not failing:
            return None, {}  # the candidate run judges the fix with the base's tests, or
            # nothing failed on the base for it to fix
        return baseline, {}  # no source change: the base's tests on it are the baseline


def _failing(baseline: TestReport) -> list[str]:
    """The tests that failed on the base (not the made-up case of a broken run)."""
    return [c.id for c in baseline.cases if c.outcome in _FAILING and c.id != SYNTHETIC_ID]
