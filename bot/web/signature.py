"""The webhook signature Patchbot accepts: `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the
body>`, and nothing else. GitHub also sends an HMAC-SHA1 in `X-Hub-Signature`; gidgethub's
`validate_event` accepts that one alone, and `sha1=` inside the SHA-256 header too, so the
header and the algorithm are checked here first."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from bot.errors import PatchbotError

HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


class BadSignature(PatchbotError, ValueError):
    """The delivery does not carry a valid HMAC-SHA256 signature."""


def verify_signature(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Raise BadSignature unless `headers` (case-insensitive, as a request's are) carry the
    HMAC-SHA256 of `body` under `secret` in `X-Hub-Signature-256`."""
    signature = headers.get(HEADER)
    if signature is None:
        raise BadSignature(f"the {HEADER} header is missing (an SHA-1 signature is not enough)")
    if not signature.startswith(_PREFIX):
        raise BadSignature(f"the {HEADER} header does not start with {_PREFIX!r}")
    expected = _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature.encode(errors="replace"), expected.encode()):
        raise BadSignature(f"the {HEADER} signature does not match the body")
