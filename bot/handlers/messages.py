"""What Patchbot says on GitHub. Each text carries a hidden marker, so Patchbot can tell its own
comments apart (and never acts on them) and can later find and edit them."""

from __future__ import annotations

from bot.github.markers import STATUS_MARKER

REFUSED = """<!-- patchbot:refused -->
@{login} only people with **{permission}** access (or more) to this repository can ask me to \
work on an issue. A maintainer can add the `{label}` label or comment `{prefix} fix`."""

BUSY = """<!-- patchbot:busy -->
@{login} run #{run_id} is already {state} for this issue; I work on one run per issue at a time. \
Comment `{prefix} stop` to stop it, then ask again."""

QUEUED = (
    STATUS_MARKER
    + """
Patchbot queued run #{run_id} for this issue, as @{login} asked with {how}.{waiting} \
I will post here when there is a pull request or a question. Comment `{prefix} stop` to stop me."""
)

STOPPING = """<!-- patchbot:stopped run={run_id} -->
@{login} {what}"""

NOTHING_TO_STOP = """<!-- patchbot:stopped -->
@{login} there is no queued or running run for this issue, so there is nothing to stop."""

NOTHING_TO_DECIDE = """<!-- patchbot:decision -->
@{login} no run of this issue is waiting for an approval, so there is nothing to {command}."""

MAY_NOT_DECIDE = """<!-- patchbot:decision -->
@{login} you cannot {command} run #{run_id}: {reason}."""

DECIDED = """<!-- patchbot:decision run={run_id} -->
@{login} {what}"""

REVISION_QUEUED = (
    STATUS_MARKER
    + """
Patchbot queued run #{run_id}, revision {iteration} of this pull request, for {what}. It starts \
once the feedback has settled (a few seconds) and pushes one new, verified commit to this \
branch; it never rewrites the commits already here. Comment `{prefix} stop` to stop me."""
)

REVISION_WAITING = """<!-- patchbot:revision run={run_id} -->
@{login} I am working on run #{run_id} for this pull request right now. Your feedback is kept; \
the next revision starts when this run ends."""

NOT_OURS = """<!-- patchbot:pull -->
@{login} I only revise pull requests I opened, so I do nothing on this one."""

PULL_CLOSED = """<!-- patchbot:pull -->
@{login} this pull request is closed, so there is nothing to {command}."""

PULL_COMMANDS = """<!-- patchbot:pull -->
@{login} on a pull request I answer `{prefix} revise [instructions]`, `{prefix} update` and \
`{prefix} stop`; `{prefix} {command}` works on the issue."""

ISSUE_COMMANDS = """<!-- patchbot:pull -->
@{login} `{prefix} {command}` works on a pull request Patchbot opened; comment it there."""

CLOSED_CANCELLED = """<!-- patchbot:stopped run={run_id} -->
This pull request was closed, so Patchbot stopped run #{run_id}; it pushes nothing more here."""

HELP = """<!-- patchbot:help -->
I am Patchbot, a bot that turns an issue into a tested pull request. People with **{permission}** \
access to this repository can ask me, in a comment on its own line:

| Command | What it does |
| --- | --- |
| `{prefix} fix [instructions]` | start working on this issue; the rest of the comment is extra \
instructions |
| `{prefix} retry` | start again, with the last run's instructions (a verified patch the last \
run could not publish is published, without running the agent again) |
| `{prefix} stop` | stop the queued or running run of this issue |
| `{prefix} approve` | let a run that waits for approval push its verified patch |
| `{prefix} reject` | drop the patch of a run that waits for approval |
| `{prefix} help` | show this message |

Adding the `{label}` label to an issue does the same as `{prefix} fix`.

On a pull request Patchbot opened:

| Command | What it does |
| --- | --- |
| `{prefix} revise [instructions]` | push a new, verified commit that addresses the review \
comments and the instructions |
| `{prefix} update` | merge the base branch into the pull request (never a force-push), \
resolving conflicts if it can, and verify again |
| `{prefix} stop` | stop the pull request's queued or running revision |

A review that requests changes does the same as `{prefix} revise`; its line comments, with \
their file and line, are what the revision addresses."""
