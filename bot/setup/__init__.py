"""Zero-configuration set-up, the plan: read how a repository installs and runs its tests (its
CI, tox, nox, pyproject, setup.py, requirement files) and what to try, in order. Running the
plan in a container, its cache and `patchbot setup doctor` are `bot.sandbox`'s and
`bot.solve`'s; nothing here needs Docker."""
