"""People and other apps acting on a pull request, each followed by the webhooks GitHub sends:
opening one, a review with line comments, a push to the head branch, another app's check run,
closing or merging. Tests use them to steer Patchbot's pull request as maintainers and CI would."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bot.testing.simulator import gitcommits, gitrepo
from bot.testing.simulator.deliveries import Acting, Delivery
from bot.testing.simulator.hunks import hunk_in_pull
from bot.testing.simulator.payloads import payload_for, push_payload
from bot.testing.simulator.shapes_checks import CONCLUSIONS, annotation
from bot.testing.simulator.shapes_pulls import ZERO_SHA
from bot.testing.simulator.state import (
    CheckRun,
    Pull,
    Repo,
    Review,
    ReviewComment,
    ReviewState,
    User,
    now_iso,
)


async def _emit(
    github: Acting, event: str, action: str, repo: Repo, sender: User, **objects: Any
) -> Delivery:
    payload = await payload_for(
        github.state, github.urls, event, action, repo=repo, sender=sender, **objects
    )
    return await github.send_event(event, payload)


async def _shas(repo: Repo, pull: Pull) -> tuple[str, str]:
    """(head, base) commit shas of the pull, read from its branches."""
    head = await gitrepo.ref_sha(repo.path, pull.head)
    base = await gitrepo.ref_sha(repo.path, pull.base)
    if head is None or base is None:
        raise KeyError(f"pull #{pull.number}: branch {pull.head} or {pull.base} is gone")
    return head, base


async def _commit_on(
    repo: Repo, branch: str, files: Mapping[str, str], user: User, message: str
) -> tuple[str, str]:
    """A commit by `user` writing `files` on top of `branch`, the branch moved to it:
    (the branch's commit before, the new commit)."""
    parent = await gitrepo.ref_sha(repo.path, f"refs/heads/{branch}")
    if parent is None:
        raise KeyError(f"no branch {branch} in {repo.full_name}")
    sha = await gitcommits.commit_files(repo.path, parent, files, by=user, message=message)
    await gitcommits.move_branch(repo.path, branch, sha, parent)
    return parent, sha


class PullActivity:
    """Acting helpers of `GitHubSimulator`: each changes the state, then delivers the signed
    webhook(s) GitHub would send, and returns them."""

    async def review_pull(
        self: Acting,
        full_name: str,
        number: int,
        *,
        by: str,
        state: ReviewState = "CHANGES_REQUESTED",
        body: str = "",
        comments: Iterable[tuple[str, int, str]] = (),
        commit_id: str | None = None,
    ) -> tuple[Review, list[Delivery]]:
        """`by` submits a review with line comments `(path, line, body)` on the new side of
        the diff. Delivers `pull_request_review_comment`/`created` per comment, then
        `pull_request_review`/`submitted`. ValueError for a file the pull does not change."""
        repo = self.repo(full_name)
        pull = repo.pulls[number]
        user = self.state.user(by)
        head, base = await _shas(repo, pull)
        review = Review(self.state.new_id(), user, state, body, commit_id or head)
        made = []
        for path, line, text in comments:
            hunk, position = await hunk_in_pull(repo.path, base, head, path, line)
            made.append(
                ReviewComment(
                    id=self.state.new_id(),
                    body=text,
                    path=path,
                    user=user,
                    commit_id=review.commit_id,
                    diff_hunk=hunk,
                    line=line,
                    original_line=line,
                    position=position,
                    review_id=review.id,
                )
            )
        pull.reviews.append(review)
        pull.review_comments.extend(made)
        pull.updated_at = now_iso()
        deliveries = [
            await _emit(
                self,
                "pull_request_review_comment",
                "created",
                repo,
                user,
                pull=pull,
                review_comment=comment,
            )
            for comment in made
        ]
        deliveries.append(
            await _emit(
                self, "pull_request_review", "submitted", repo, user, pull=pull, review=review
            )
        )
        return review, deliveries

    async def open_pull(
        self: Acting,
        full_name: str,
        branch: str,
        files: Mapping[str, str],
        *,
        by: str,
        title: str,
        body: str | None = None,
    ) -> tuple[Pull, Delivery]:
        """`by` pushes a commit writing `files` on the default branch to a new `branch` and
        opens a pull request from it; GitHub delivers `pull_request`/`opened`."""
        repo = self.repo(full_name)
        user = self.state.user(by)
        base = await gitrepo.ref_sha(repo.path, repo.default_branch)
        if base is None:
            raise KeyError(f"{full_name} has no branch {repo.default_branch}")
        sha = await gitcommits.commit_files(repo.path, base, files, by=user, message=title)
        await gitcommits.move_branch(repo.path, branch, sha, ZERO_SHA)
        pull = Pull(
            number=repo.next_number(),
            id=self.state.new_id(),
            title=title,
            body=body,
            user=user,
            head=branch,
            base=repo.default_branch,
        )
        repo.pulls[pull.number] = pull
        return pull, await _emit(self, "pull_request", "opened", repo, user, pull=pull)

    async def close_pull(
        self: Acting, full_name: str, number: int, *, by: str, merge: bool = False
    ) -> Delivery:
        """`by` closes the pull, or with `merge` merges it with a merge commit on its base
        branch, and GitHub delivers `pull_request`/`closed` (`merged` tells which)."""
        repo = self.repo(full_name)
        pull = repo.pulls[number]
        if pull.state != "open":
            raise ValueError(f"pull #{number} is already closed")
        user = self.state.user(by)
        if merge:
            head, base = await _shas(repo, pull)
            message = f"Merge pull request #{number} from {repo.owner.login}/{pull.head}"
            sha = await gitcommits.merge_commit(
                repo.path, base, head, by=user, message=f"{message}\n\n{pull.title}"
            )
            await gitcommits.move_branch(repo.path, pull.base, sha, base)
            pull.merged, pull.merged_by, pull.merge_commit_sha = True, user, sha
            pull.merged_at = now_iso()
        pull.state = "closed"
        pull.closed_at = pull.updated_at = now_iso()
        return await _emit(self, "pull_request", "closed", repo, user, pull=pull)

    async def reopen_pull(self: Acting, full_name: str, number: int, *, by: str) -> Delivery:
        """`by` reopens a closed, unmerged pull; GitHub delivers `pull_request`/`reopened`."""
        repo = self.repo(full_name)
        pull = repo.pulls[number]
        if pull.state != "closed" or pull.merged:
            raise ValueError(f"pull #{number} is not closed unmerged")
        pull.state, pull.closed_at, pull.updated_at = "open", None, now_iso()
        return await _emit(self, "pull_request", "reopened", repo, self.state.user(by), pull=pull)

    async def push_commit(
        self: Acting,
        full_name: str,
        branch: str,
        files: Mapping[str, str],
        *,
        by: str,
        message: str,
    ) -> str:
        """`by` pushes a commit writing `files` on top of `branch`; returns its sha. Each open
        pull with that head gets `pull_request`/`synchronize` (in `deliveries`)."""
        repo = self.repo(full_name)
        user = self.state.user(by)
        parent, sha = await _commit_on(repo, branch, files, user, message)
        for pull in repo.pulls.values():
            if pull.state == "open" and pull.head == branch:
                pull.updated_at = now_iso()
                extra = {"before": parent, "after": sha}
                await _emit(self, "pull_request", "synchronize", repo, user, pull=pull, extra=extra)
        return sha

    async def push_to_branch(
        self: Acting,
        full_name: str,
        branch: str,
        files: Mapping[str, str],
        *,
        by: str,
        message: str,
    ) -> tuple[str, Delivery]:
        """`by` pushes a commit writing `files` on top of `branch` (say the default branch: a
        revert); GitHub delivers `push`. Returns the commit's sha and the delivery."""
        repo = self.repo(full_name)
        user = self.state.user(by)
        parent, sha = await _commit_on(repo, branch, files, user, message)
        payload = await push_payload(
            self.state, self.urls, repo, user, branch=branch, before=parent, after=sha
        )
        return sha, await self.send_event("push", payload)

    async def complete_check(
        self: Acting,
        full_name: str,
        head_sha: str,
        *,
        name: str,
        conclusion: str = "failure",
        summary: str,
        text: str | None = None,
        annotations: Sequence[Mapping[str, Any]] = (),
        app_slug: str = "ci",
    ) -> tuple[CheckRun, list[Delivery]]:
        """Another app (`app_slug`, say a CI) completes a check run on `head_sha`. Delivers
        `check_run`/`completed`, then `check_suite`/`completed` for that app's runs there."""
        if conclusion not in CONCLUSIONS:
            raise ValueError(f"conclusion {conclusion!r} is not one of {sorted(CONCLUSIONS)}")
        repo = self.repo(full_name)
        sha = await gitrepo.ref_sha(repo.path, head_sha)
        if sha is None:
            raise KeyError(f"no commit {head_sha} in {full_name}")
        app = self.state.other_app(app_slug)
        suite = repo.check_suite(app, sha)
        started = now_iso()
        run = CheckRun(
            id=self.state.new_id(),
            head_sha=sha,
            name=name,
            app=app,
            status="completed",
            conclusion=conclusion,
            started_at=started,
            completed_at=started,
            output={"title": name, "summary": summary, "text": text},
            annotations=[annotation(dict(a)) for a in annotations],
            check_suite_id=suite[0].check_suite_id if suite else self.state.new_id(),
        )
        repo.check_runs[run.id] = run
        deliveries = [
            await _emit(self, event, "completed", repo, app.bot, check_run=run)
            for event in ("check_run", "check_suite")
        ]
        return run, deliveries
