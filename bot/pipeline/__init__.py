"""From a run to GitHub: the status comment, the branch, the pull request, the escalation."""
