"""What the dashboard's handlers reach through `request.config_dict`, and its path prefix."""

from __future__ import annotations

from aiohttp import web

from bot.dashboard.sessions import Signer
from bot.runs.store import RunStore
from bot.settings import Settings

PREFIX = "/ui"
STORE = web.AppKey("dashboard_store", RunStore)
SETTINGS = web.AppKey("dashboard_settings", Settings)
SIGNER = web.AppKey("dashboard_signer", Signer)
