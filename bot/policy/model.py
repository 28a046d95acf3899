"""The policy model: what Patchbot may do on a repository, and where a human must say yes.

The server's file (`policies/default.yml`) gives the whole policy; a repository's
`.github/patchbot.yml` uses the same keys, every one optional, and can only tighten it
(see `bot.policy.merge`).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.settings import Permission

Autonomy = Literal["comment", "draft_pr", "pr"]
AUTONOMY_ORDER: tuple[Autonomy, ...] = ("comment", "draft_pr", "pr")
"""From the most restrictive to the least: post the patch in a comment, open a draft pull
request, open a pull request."""
StartCommand = Literal["fix", "retry"]
START_COMMANDS: tuple[StartCommand, ...] = ("fix", "retry")
OverLimit = Literal["needs_approval", "deny"]
EvalSchedule = Literal["daily", "weekly", "monthly", "off"]
EVAL_SCHEDULES: tuple[EvalSchedule, ...] = ("daily", "weekly", "monthly", "off")
"""From the most frequent to never: a repository may only make evaluations rarer."""
EVAL_PERIODS: dict[EvalSchedule, float] = {
    "daily": 86_400.0,
    "weekly": 604_800.0,
    "monthly": 2_592_000.0,
}
"""Seconds between two scheduled evaluations."""

DEFAULT_APPROVE: tuple[str, ...] = (
    # CI configuration: a change here runs with the repository's CI secrets.
    ".github/workflows/**",
    ".github/actions/**",
    ".gitlab-ci.yml",
    ".circleci/**",
    "Jenkinsfile",
    "azure-pipelines.yml",
    ".travis.yml",
    ".buildkite/**",
    "bitbucket-pipelines.yml",
    # What CI runs besides its configuration, with the same secrets.
    "tox.ini",
    "noxfile.py",
    "Makefile",
    ".pre-commit-config.yaml",
    "setup.py",
    # Dependency locks: pin what gets installed; hash lines nobody can review by eye.
    "*.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "pnpm-lock.yaml",
    "go.sum",
    ".gitmodules",
    # Who reviews what.
    "CODEOWNERS",
    # How the tests run: verification runs the candidate's own test set-up.
    "**/conftest.py",
    "pytest.ini",
    # Secret-like file names.
    ".env*",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*secret*",
    "*credential*",
    ".npmrc",
    ".pypirc",
    ".netrc",
)
DEFAULT_DENY: tuple[str, ...] = (".github/patchbot.yml",)
"""The bot never edits its own per-repository policy."""

_GLOB_CHARS = re.compile(r"^[^\x00-\x1f]+$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, use_attribute_docstrings=True)


class TriggerPolicy(_Section):
    """Who and what may start a run."""

    min_permission: Permission = "write"
    """Least repository role (read < triage < write < maintain < admin) a person needs to
    start a run with the label or a command."""
    labels: list[str] = Field(default_factory=lambda: ["patchbot"])
    """Issue labels that start a run (compared case-insensitively); empty: labels never do."""
    commands: list[StartCommand] = Field(default_factory=lambda: list(START_COMMANDS))
    """Slash commands that may start a run (`fix`, `retry`); `stop` always works."""
    exclude_bots: bool = True
    """Never start a run for a bot account (Patchbot itself included)."""


class ApprovalPolicy(_Section):
    """Who may answer when a gate needs a human's approval."""

    min_permission: Permission = "write"
    """Least repository role needed to `/patchbot approve` or `/patchbot reject`."""
    allow_requester: bool = False
    """Whether the person who started the run may approve it themselves."""


class AutonomyPolicy(_Section):
    """How far a run may go on its own: `comment` < `draft_pr` < `pr`."""

    default: Autonomy = "pr"
    """The most any run may do: `comment` (post the patch in a comment, push no branch),
    `draft_pr` (open a draft pull request) or `pr` (open a pull request)."""
    paths: dict[str, Autonomy] = Field(default_factory=dict)
    """Glob → level for changed files matching it; a run gets the most restrictive level of
    `default` and every rule matching any changed file."""


class BudgetPolicy(_Section):
    """What one run, and all runs of a day, may spend."""

    max_steps: int = Field(default=40, ge=1)
    """Most model calls in one run, across all attempts."""
    cost_usd: float = Field(default=2.0, gt=0)
    """US dollars one run may spend on the model."""
    wall_time: float = Field(default=1800.0, gt=0)
    """Seconds one run may take from the agent's first step, verification included."""
    attempts: int = Field(default=3, ge=1)
    """Candidate patches verified per run before it escalates."""
    daily_cost_repository_usd: float | None = Field(default=20.0, gt=0)
    """US dollars all runs on one repository may spend per UTC day; null: no cap."""
    daily_cost_installation_usd: float | None = Field(default=100.0, gt=0)
    """US dollars all runs of one installation (account) may spend per UTC day; null: no cap."""


class PathPolicy(_Section):
    """Files the bot never changes, and files whose change needs a human first. Globs: `*`
    and `?` stay within a folder, `**` spans folders; a glob without `/` matches the file
    name in any folder. Matching ignores case."""

    deny: list[str] = Field(default_factory=lambda: list(DEFAULT_DENY))
    """A final diff touching any of these is never pushed."""
    approve: list[str] = Field(default_factory=lambda: list(DEFAULT_APPROVE))
    """A final diff touching any of these waits for a human's approval before the push."""

    @field_validator("deny", "approve")
    @classmethod
    def _valid_globs(cls, globs: list[str]) -> list[str]:
        for glob in globs:
            if not glob.strip("/") or not _GLOB_CHARS.match(glob):
                raise ValueError(f"{glob!r} is not a usable glob")
        return globs


class DiffPolicy(_Section):
    """How big the final diff may be."""

    max_files: int = Field(default=30, ge=1)
    """Most files one patch may change (added, deleted and renamed ones count)."""
    max_changed_lines: int = Field(default=1000, ge=1)
    """Most lines one patch may add plus remove."""
    over_limit: OverLimit = "needs_approval"
    """What a bigger patch gets: `needs_approval` or `deny`."""


class SecretsPolicy(_Section):
    """Scanning the final diff for credentials; a hit denies the push."""

    scan: bool = True
    """Scan for known token formats and private keys. A repository cannot turn this off."""
    high_entropy: bool = True
    """Also flag random-looking strings on added lines (outside lock files)."""
    hold_env_network: bool = True
    """Hold for approval a change whose code reads environment variables and opens network
    connections: Patchbot's branch is in the base repository, where CI runs that code with the
    repository's secrets."""


class SandboxPolicy(_Section):
    """The sandbox the repository's code runs in (see `bot.sandbox.config.SandboxConfig`)."""

    images: list[str] = Field(default_factory=lambda: ["python", "python3.9", "python3.13"])
    """Sandbox images (folders of `sandbox_images/`) a repository may choose from; the set-up
    also picks among the built ones by the commit's Python versions."""
    image: str = "python"
    """The image runs use; one of `images`."""
    setup_network: bool = True
    """Whether installing the dependencies may use the network. Tests never may."""
    memory_mb: int = Field(default=2048, ge=64)
    """Memory limit of the container in MiB (swap included)."""
    pids_limit: int = Field(default=512, ge=16)
    """Most processes and threads the container may have at once."""
    cpus: float = Field(default=2.0, gt=0)
    """CPU cores the container may use."""
    setup_timeout: float = Field(default=900.0, gt=0)
    """Seconds the set-up phase may take."""
    test_timeout: float = Field(default=600.0, gt=0)
    """Seconds one run of the test suite may take."""
    exec_timeout: float = Field(default=120.0, gt=0)
    """Seconds one command may take when the caller gives no timeout."""

    @model_validator(mode="after")
    def _image_allowed(self, info: ValidationInfo) -> SandboxPolicy:
        partial = isinstance(info.context, dict) and info.context.get("partial")
        if not partial and self.image not in self.images:
            raise ValueError(f"image {self.image!r} is not in images {self.images}")
        return self


class RevisionPolicy(_Section):
    """Runs on Patchbot's own pull requests: review feedback, `/patchbot revise` and `update`,
    and failing checks of other apps."""

    enabled: bool = True
    """Answer review feedback and `/patchbot revise` or `update` with new, verified commits."""
    max_revisions: int = Field(default=10, ge=1)
    """Revision runs per pull request, whatever started them; past it, Patchbot escalates."""
    ci_repair: bool = True
    """Start a repair run when another app's check fails on the pull request's head."""
    max_ci_repairs: int = Field(default=2, ge=0)
    """Repair runs per pull request; past it, Patchbot escalates instead."""


class VerificationPolicy(_Section):
    """How a candidate is proven, and what about it waits for a human."""

    hold_integrity: bool = True
    """Hold for approval a verified patch with integrity findings: changed test configuration,
    removed or skipped tests, bent assertions, code that reaches into the test runner."""
    reruns: int = Field(default=2, ge=0)
    """Times a failure that decides the verdict is run again; a changing outcome is flaky."""


class EvalPolicy(_Section):
    """Scheduled `patchbot eval` runs in the server on the repository's mined tasks, and the
    alert when quality drifts (queue the first with `patchbot eval schedule`)."""

    schedule: EvalSchedule = "weekly"
    """How often a scheduled evaluation runs: `daily`, `weekly`, `monthly` or `off`."""
    tasks: str = ".github/patchbot-eval.jsonl"
    """The mined tasks (`patchbot eval mine --out`), a file of the repository's default
    branch."""
    max_tasks: int = Field(default=20, ge=1)
    """Tasks one scheduled evaluation runs at most (the file's first ones)."""
    budget_usd: float | None = Field(default=5.0, gt=0)
    """US dollars one scheduled evaluation may spend on the model; it starts no task once
    they are spent. null: no cap but `max_tasks`."""
    max_resolve_drop: float = Field(default=0.1, ge=0, le=1)
    """Alert when the resolve rate falls by more than this (0.1: ten points) from the
    previous evaluation."""
    max_wrong_pr_rise: int = Field(default=0, ge=0)
    """Alert when more pull requests than the previous evaluation's plus this would have
    been opened for tasks they do not resolve (accepted but not resolved)."""
    issue: int | None = Field(default=None, ge=1)
    """The repository's issue that gets a comment on an alert; null: log and metric only."""

    @field_validator("schedule", mode="before")
    @classmethod
    def _off_as_yaml_reads_it(cls, value: object) -> object:
        return "off" if value is False else value  # YAML 1.1 reads a bare `off` as false


class Policy(_Section):
    """Everything that decides what a run may do. Every default is a sensible server default."""

    trigger: TriggerPolicy = Field(default_factory=TriggerPolicy)
    """Who and what may start a run."""
    approval: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    """Who may approve what a gate holds back."""
    autonomy: AutonomyPolicy = Field(default_factory=AutonomyPolicy)
    """How far a run may go on its own, per repository and per path."""
    budgets: BudgetPolicy = Field(default_factory=BudgetPolicy)
    """Steps, money and time a run (and a day) may use."""
    paths: PathPolicy = Field(default_factory=PathPolicy)
    """Files never changed, and files that need approval."""
    diff: DiffPolicy = Field(default_factory=DiffPolicy)
    """Size limits of the final diff."""
    secrets: SecretsPolicy = Field(default_factory=SecretsPolicy)
    """Credential scanning of the final diff."""
    sandbox: SandboxPolicy = Field(default_factory=SandboxPolicy)
    """Limits of the sandbox."""
    revisions: RevisionPolicy = Field(default_factory=RevisionPolicy)
    """What Patchbot does when its pull request gets feedback or a failing check."""
    verification: VerificationPolicy = Field(default_factory=VerificationPolicy)
    """Proof by failing first, and the integrity gate."""
    eval: EvalPolicy = Field(default_factory=EvalPolicy)
    """Scheduled evaluations on the repository's history, and their drift alert."""
    draft: bool = False
    """Open pull requests as drafts, whatever `autonomy` allows."""
    test_command: str | None = None
    """Shell command that runs the tests in the sandbox; detected when unset."""
    setup_command: str | None = None
    """Shell command that installs the dependencies into `/env`; detected when unset."""


def autonomy_rank(level: Autonomy) -> int:
    """0 for `comment` up to 2 for `pr`: lower is more restrictive."""
    return AUTONOMY_ORDER.index(level)
