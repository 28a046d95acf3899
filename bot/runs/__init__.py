"""Durable runs: models, the store (SQLite or PostgreSQL), the worker and the pipeline seam."""
