"""The set-up report as people read it: in the status comment and `report.md`. Everything in
it that came from the repository or an installer's output is untrusted and quoted."""

from __future__ import annotations

from bot.github.markdown import code, fenced, plain
from bot.setup.model import SetupReport
from bot.setup.snippet import snippet


def setup_markdown(report: SetupReport) -> str:
    """What the set-up read, each try with its decisive line, why it stopped, and the
    `.github/patchbot.yml` lines that would pin or fix it."""
    head = f"**Set-up:** read from {plain(', '.join(report.sources) or 'nothing')}"
    if report.image:
        head += f"; image {code(report.image)}" + (
            f" with {report.installer}" if report.installer else ""
        )
    lines = [head, ""]
    for attempt in report.tries:
        line = f"{attempt.number}. {plain(attempt.rule)}: **{attempt.outcome}** "
        line += f"({attempt.seconds:.0f} s"
        line += f", {attempt.collected} tests collected)" if attempt.collected else ")"
        lines.append(line)
        if attempt.decisive and attempt.outcome != "ok":
            lines.append(f"   {code(attempt.decisive[-1])}")
    if report.error:
        lines += ["", f"**Why it stops here:** {code(report.error, 400)}"]
    fits = "pin what worked:" if report.ok else "are a start to fix it:"
    lines += ["", f"These lines in `.github/patchbot.yml` on the default branch {fits}", ""]
    lines.append(fenced(snippet(report), "yaml"))
    return "\n".join(lines)
