"""Policies: what a run may do and where a human must say yes. `model` (the Policy), `load`
(server files, `.github/patchbot.yml`, the merge that only tightens), `gates` (decisions on a
trigger and on the final diff), `limits` (what the policy gives the solver)."""
