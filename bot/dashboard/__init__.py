"""The web dashboard under `/ui/`: runs, a run's timeline, approvals and KPIs, for people
signed in with GitHub (each sees the repositories they can read) and machines with a token."""
