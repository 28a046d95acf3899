"""The run on GitHub: what a claimed run does (a first run, a revision of its pull request, an
approved hold), from its status comment to the pull request or the escalation; the server's
pipeline and `patchbot worker`, which run it."""
