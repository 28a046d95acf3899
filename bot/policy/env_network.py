"""The CI-secrets gate: a change whose code reads environment variables and opens network
connections waits for a human. Patchbot pushes its branch to the base repository, where the
repository's CI runs the new code (a test, a `conftest.py`, a set-up script) with the CI's
secrets in its environment: such code could send them anywhere, and the tests still pass.

Both must come from the change's added lines, or one from them and the other from the rest of
a file the change touches (an added `urlopen` in a test module that already reads
`os.environ`)."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.policy.decisions import Decision
from bot.policy.diff import ChangedFile
from bot.policy.model import Policy

ENVIRONMENT = re.compile(
    r"\benviron\b|\bgetenv\b|\bputenv\b|process\.env\b|System\.getenv|\bENV\s*(?:\[|\.fetch)"
    r"|\benv::var|os\.Getenv|GetEnvironmentVariable|\$ENV\{|\bprintenv\b|/proc/self/environ"
    r"|\$\{\{\s*secrets\."
)
"""Reading environment variables, in Python, JavaScript, Java, Ruby, Rust, Go, C#, Perl, shell
and GitHub Actions."""
NETWORK = re.compile(
    r"\b(?:import|from)\b[^\n#]*\b(?:socket|urllib\.request|urllib3|http\.client|httpx"
    r"|requests|aiohttp|smtplib|ftplib|telnetlib|paramiko|pycurl|websockets?|grpc)\b"
    r"|\bfrom\s+(?:urllib|http)\s+import\b[^\n#]*\b(?:request|client)\b"
    r"|\bsocket\.|urlopen|urlretrieve|\bhttpx\.|\brequests\.(?:get|post|put|patch|delete|head"
    r"|request|Session)\b|ClientSession|create_connection|getaddrinfo|\bfetch\s*\("
    r"|XMLHttpRequest|\baxios\b|\bWebSocket\b|\bnet\.Dial|\bhttp\.(?:Get|Post|NewRequest)\b"
    r"|Net::HTTP|\bcurl\s|\bwget\s|Invoke-(?:WebRequest|RestMethod)|/dev/(?:tcp|udp)/|\bnc\s+-"
)
"""Opening network connections: sockets, HTTP clients and their imports, shell downloaders."""
MAX_FILE = 1_000_000
"""Characters of a changed file's earlier content looked at."""

Existing = Callable[[str], str]
"""The content a changed file had before the change ('' when new or unreadable)."""


def _where(files: list[ChangedFile], pattern: re.Pattern[str]) -> list[str]:
    return [
        f"`{file.path}` line {line.number}"
        for file in files
        for line in file.added_lines
        if pattern.search(line.text)
    ]


def _beside(files: list[ChangedFile], pattern: re.Pattern[str], existing: Existing) -> list[str]:
    """Changed files whose earlier content matches `pattern`."""
    found = []
    for file in files:
        if file.status != "added" and pattern.search(existing(file.path)[:MAX_FILE]):
            found.append(f"`{file.path}` (already)")
    return found


def env_network_gate(policy: Policy, files: list[ChangedFile], existing: Existing) -> Decision:
    """Hold a change that reads the environment and opens network connections."""
    if not policy.secrets.hold_env_network:
        return Decision(gate="env_network", verdict="allow", reason="not checked (policy)")
    reads, sends = _where(files, ENVIRONMENT), _where(files, NETWORK)
    touched = [f for f in files if any(ENVIRONMENT.search(line.text) for line in f.added_lines)]
    sending = [f for f in files if any(NETWORK.search(line.text) for line in f.added_lines)]
    reads += _beside(sending, ENVIRONMENT, existing)
    sends += _beside(touched, NETWORK, existing)
    if not (reads and sends):
        return Decision(
            gate="env_network",
            verdict="allow",
            reason="no new code both reads the environment and opens network connections",
        )
    return Decision(
        gate="env_network",
        verdict="needs_approval",
        reason=f"new code reads the environment ({', '.join(reads[:3])}) and opens network "
        f"connections ({', '.join(sends[:3])}): in CI it runs with the repository's secrets",
    )
