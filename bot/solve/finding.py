"""One integrity finding: what a passing suite does not excuse (see `bot.solve.integrity`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

Kind = Literal["config", "removed", "skip", "assertion", "runner", "bent", "expectation"]


class Finding(BaseModel):
    """One thing about the candidate that a human must see, naming file, test and line."""

    kind: Kind
    path: str
    line: int | None = None
    test: str = ""
    what: str
    held: bool
    """True: the default policy holds the pull request until a human approves."""

    def text(self) -> str:
        where = self.path + (f":{self.line}" if self.line else "")
        return where + (f" ({self.test})" if self.test else "") + f": {self.what}"
