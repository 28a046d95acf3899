"""Patchbot: a self-hosted GitHub App that turns an issue into a tested pull request."""

__version__ = "0.1.0"
