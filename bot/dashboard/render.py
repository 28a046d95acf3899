"""Pages from the templates in `templates/`, escaped by default: every value from the store or
a trace (issue text, model output, tool output, file names) is untrusted and reaches the page
as text, never as markup. Only the charts' SVG, built here from numbers, is marked safe."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.console import cost_text
from bot.dashboard.sessions import VIEWER

_ENV = Environment(
    loader=PackageLoader("bot.dashboard", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def utc(stamp: float | None) -> str:
    """`2026-12-07 03:04:05` (UTC), or `-`."""
    return "-" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp))


def link(url: str | None) -> str | None:
    """The URL when it is http(s), else None: a `javascript:` link from a record is no link."""
    return url if url and url.startswith(("https://", "http://")) else None


def percent(value: float | None) -> str:
    """`83%`, or `-` when there was nothing to count."""
    return "-" if value is None else f"{100 * value:.0f}%"


def hours(seconds: float | None) -> str:
    """`2.5 h`, `12 min` or `40 s`; `-` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


_ENV.filters.update(utc=utc, usd=cost_text, link=link, percent=percent, hours=hours)


def page(template: str, request: web.Request, status: int = 200, **values: Any) -> web.Response:
    """The template rendered with `values` (and the viewer, when known) as an HTML answer."""
    html = _ENV.get_template(template).render(viewer=request.get(VIEWER), **values)
    return web.Response(
        text=html,
        status=status,
        content_type="text/html",
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store",
        },
    )
