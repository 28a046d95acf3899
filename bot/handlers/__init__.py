"""Webhook handlers, one module per event family, joined into one gidgethub Router."""

from __future__ import annotations

from gidgethub import routing


def build_router() -> routing.Router:
    """The router of every handler; what it has no route for, Patchbot does not handle."""
    from bot.handlers import checks, comments, installations, issues, outcomes, pulls

    return routing.Router(
        checks.router,
        comments.router,
        installations.router,
        issues.router,
        outcomes.router,
        pulls.router,
    )
