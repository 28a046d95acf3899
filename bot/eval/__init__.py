"""`patchbot eval`: mine fix commits from a repository's history as SWE-bench-style tasks, run
Patchbot on them through the same `solve` path the server uses, grade and report; and, in the
server, evaluate on a schedule and raise a drop (`scheduled`, `drift`)."""
