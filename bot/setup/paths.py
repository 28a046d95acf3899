"""Where a sandbox keeps things: the paths set-up plans with and every container uses."""

WORKSPACE = "/workspace"
"""Where the repository's checkout is mounted inside every sandbox."""
VENV = "/env/venv"
"""The set-up environment; the test phase runs with its `bin` first on PATH."""
