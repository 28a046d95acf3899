"""The durable records: a Run (one request to fix one issue), the Feedback maintainers give on
Patchbot's pull requests, a Delivery, an Installation."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

from pydantic import BaseModel, Field, model_validator

from bot.errors import PatchbotError


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    """A policy gate held the run's verified patch until a human approves or rejects it."""
    SUCCEEDED = "succeeded"
    ESCALATED = "escalated"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        return self in (RunState.QUEUED, RunState.RUNNING, RunState.AWAITING_APPROVAL)


Trigger = Literal["label", "comment", "retry", "cli", "review", "revise", "update", "ci", "eval"]
"""The first four start a first run; the next four a revision run of Patchbot's own pull
request (a review, `/patchbot revise`, `/patchbot update`, a failing external check); `eval` a
scheduled evaluation of the repository (issue 0, see `bot.runs.evals`)."""


class NewRun(BaseModel):
    """What a trigger asks for; the store turns it into a queued Run."""

    repository: str
    """Full name `owner/name`."""
    issue: int
    """Issue number in that repository."""
    requester: str
    """Login of the person who asked."""
    trigger: Trigger
    """How it was asked for."""
    instructions: str = ""
    """Extra text given after `/patchbot fix`, if any."""
    installation_id: int | None = None
    """GitHub App installation to act as (None for local runs)."""
    delivery_id: str | None = None
    """Webhook delivery that created the run; a delivery creates at most one run."""
    pull_request: int | None = None
    """The pull request a revision run works on (Patchbot's own); None for a first run."""
    iteration: int = 0
    """0 for a first run; N for the Nth revision run of its pull request (counts rework)."""
    not_before: float | None = None
    """Unix time before which no worker claims it: lets a burst of review comments gather."""
    repeat_seconds: float | None = Field(default=None, gt=0)
    """A run that repeats: when it ends (unless stopped), the next is queued, due this many
    seconds later (scheduled evaluations)."""


class Run(NewRun):
    """One request to fix one issue, as stored."""

    id: int
    state: RunState
    attempts: int = 0
    """How many times a worker has claimed it."""
    created_at: float
    """Unix time, seconds."""
    updated_at: float
    started_at: float | None = None
    """When a worker first claimed it (Unix time)."""
    finished_at: float | None = None
    cost_usd: float | None = 0.0
    """Model spend of its finished attempts, US dollars; None (unknown) once an attempt used
    a model litellm has no price for."""
    pr_url: str | None = None
    """The pull request the run opened or pushed to, once it did."""
    lease_owner: str | None = None
    """Name of the worker holding it while it runs."""
    lease_expires_at: float | None = None
    """Unix time after which another worker may take it over."""
    cancel_requested: bool = False
    """Someone asked to stop it; its worker stops at its next heartbeat."""
    summary: str = ""
    """One-line result for humans (why it failed, what it did)."""


class RunOutcome(BaseModel):
    """What a pipeline returns: how the run ended."""

    state: Literal[
        RunState.SUCCEEDED,
        RunState.ESCALATED,
        RunState.FAILED,
        RunState.AWAITING_APPROVAL,
        RunState.CANCELLED,
    ]
    """CANCELLED: the pipeline found there was no point going on (its pull request closed)."""
    summary: str = ""
    cost_usd: float | None = Field(default=0.0, ge=0)
    """Money spent on the model during this attempt, US dollars; None when unknown."""
    hold: str | None = None
    """With AWAITING_APPROVAL: what the pipeline needs to resume once approved (its own
    JSON), kept in the store so that it survives restarts."""

    @model_validator(mode="after")
    def _held_with_content(self) -> RunOutcome:
        if (self.state is RunState.AWAITING_APPROVAL) != (self.hold is not None):
            raise ValueError("a run awaits approval exactly when the outcome carries a hold")
        return self


FeedbackKind = Literal["review", "line", "comment", "update", "check"]
"""A review's body, a line comment, a `/patchbot revise` comment, a `/patchbot update`
comment, a failing external check."""


class NewFeedback(BaseModel):
    """One thing a maintainer (or a check) said about a Patchbot pull request, as received."""

    repository: str
    """Full name `owner/name`."""
    pull_request: int
    """Pull request number in that repository."""
    kind: FeedbackKind
    author: str
    """Login of who said it; for a check, the slug of the app that ran it."""
    body: str = ""
    """The text: review body, comment, or a check's summary and annotations."""
    source_id: int
    """GitHub id of the review, comment or check run. (repository, pull_request, kind,
    source_id) is unique, so a redelivery or a second event about it is kept once."""
    path: str | None = None
    """For a line comment: the file it is on."""
    line: int | None = None
    """For a line comment: its line in that file."""
    diff_hunk: str | None = None
    """For a line comment: the diff around it, as GitHub shows it."""
    review_id: int | None = None
    """For a line comment: the review it belongs to, if any."""
    delivery_id: str | None = None
    """Webhook delivery that brought it."""


class Feedback(NewFeedback):
    """Feedback as stored: pending until a revision run takes it."""

    id: int
    run_id: int | None = None
    """The run that took it; None while pending."""
    received_at: float
    """Unix time, seconds."""


HoldDecision = Literal["approved", "rejected"]
"""What a human answered a held run (a gate's verdict is `bot.policy.decisions.Decision`)."""


class Hold(BaseModel):
    """A run's patch held for a human, and the human's decision once made."""

    run_id: int
    content: str
    """The pipeline's own record of what to do once approved (JSON)."""
    held_at: float
    held_by: str
    """The worker that held it."""
    decision: HoldDecision | None = None
    decided_by: str | None = None
    """Login of who approved or rejected."""
    decided_at: float | None = None


class Delivery(BaseModel):
    """A webhook delivery as received (signature already verified)."""

    delivery_id: str
    event: str
    action: str | None = None
    installation_id: int | None = None
    payload: str
    """The body exactly as GitHub sent it (JSON text)."""
    received_at: float
    processed_at: float | None = None
    error: str | None = None
    """Why processing failed, if it did."""


class Installation(BaseModel):
    """A GitHub App installation and the repositories it covers (when selected ones)."""

    id: int
    account: str
    repository_selection: str = "selected"
    repositories: list[str] = Field(default_factory=list)
    suspended: bool = False
    updated_at: float = 0.0


PullState = Literal["open", "merged", "closed"]
PullOutcomeState = Literal["open", "merged", "closed", "reverted"]
PULL_OUTCOME_STATES: tuple[PullOutcomeState, ...] = get_args(PullOutcomeState)
CiResult = Literal["pass", "fail"]


class PullOpened(BaseModel):
    """The pull request a first run opened, as its pipeline pushed it."""

    number: int
    branch: str
    head_sha: str
    """The commit of Patchbot's first push: other apps' checks on it are "CI on first push"."""
    files: list[str] = Field(default_factory=list)
    """The paths the patch changed (both names of a rename): staged autonomy's track record
    is kept per path."""


class PullOutcome(BaseModel):
    """What became of a pull request Patchbot opened, from webhooks (and the REST API when a
    delivery was missed). Revision rounds are the pull request's revision runs."""

    repository: str
    pull_request: int
    issue: int
    run_id: int | None = None
    """The first run, which opened it (None when only a webhook told of it)."""
    installation_id: int | None = None
    branch: str | None = None
    first_head_sha: str | None = None
    opened_at: float | None = None
    state: PullState = "open"
    merged_at: float | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    closed_at: float | None = None
    closed_by: str | None = None
    """Who closed or merged it (None when reconciled: the REST API does not say who closed)."""
    ci_first_push: CiResult | None = None
    """Other apps' checks and statuses on the first push: `fail` if any failed, `pass` if one
    passed and none failed, None while none has reported."""
    human_pushes: int = 0
    """Pushes to its branch by someone other than Patchbot."""
    reverted_at: float | None = None
    """When a commit reverting its merge commit reached the default branch."""
    revert_sha: str | None = None
    updated_at: float = 0.0
    changed_files: list[str] | None = None
    """The paths Patchbot's patch changed; None for a pull request opened before migration 11
    or only a webhook told of."""


class RunCounts(BaseModel):
    """The store's aggregates that `/metrics` reports, read at each scrape."""

    by_state: dict[RunState, int]
    """Runs in each state; every state is present (0 when none)."""
    oldest_queued_at: float | None
    """When the longest-waiting queued run was queued (Unix time); None when none is."""
    failed_deliveries: int
    """Deliveries whose handling failed and was not redelivered with success since."""
    pull_outcomes: dict[str, int] = Field(default_factory=dict)
    """Patchbot's pull requests by where they ended up; every outcome is present."""


class ActiveRunExists(PatchbotError, RuntimeError):
    """The issue already has a queued or running run; one at a time per issue."""

    def __init__(self, run: Run) -> None:
        super().__init__(
            f"issue {run.repository}#{run.issue} already has run {run.id} ({run.state.value}); "
            f"stop it with `/patchbot stop` first"
        )
        self.run = run


class LeaseLost(PatchbotError, RuntimeError):
    """The worker no longer holds the run (its lease expired and another worker took it)."""

    def __init__(self, run_id: int, worker: str) -> None:
        super().__init__(f"worker {worker} no longer holds the lease on run {run_id}")
        self.run_id = run_id
        self.worker = worker


class RunNotFound(PatchbotError, LookupError):
    """No run has this id; `patchbot runs list` shows the ones there are."""

    @classmethod
    def missing(cls, run_id: int) -> RunNotFound:
        """The error for an id no run has, naming the command that lists the runs."""
        return cls(f"no run {run_id}; `patchbot runs list` shows the runs")
