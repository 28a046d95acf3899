"""Zero-configuration set-up: read how a repository installs and runs its tests (its CI, tox,
nox, pyproject, setup.py, requirement files), try plans until its suite collects, cache what
worked, and say what was tried (`patchbot setup doctor`)."""
