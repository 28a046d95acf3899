"""What Patchbot leaves on GitHub to know its own things again: the hidden marker every text
of its own starts with (a comment that carries it is never acted on), the status comment's
marker per run (the handlers write it, a run finds and edits that comment), the label of what
it gave up on, and its check run's name."""

from __future__ import annotations

MARKER = "<!-- patchbot:"
STATUS_MARKER = "<!-- patchbot:status run={run_id} -->"
"""The first line of a run's status comment (format with `run_id`)."""
NEEDS_HUMAN_LABEL = "patchbot:needs-human"
"""Put on an issue or pull request Patchbot gave up on; it starts no repair run while there."""
CHECK_NAME = "patchbot/verify"
"""Patchbot's own check run: the tests' verdict on each commit it pushes."""


def status_marker(run_id: int) -> str:
    """The status comment's marker of run `run_id`."""
    return STATUS_MARKER.format(run_id=run_id)
