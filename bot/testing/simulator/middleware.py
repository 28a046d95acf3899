"""Request recording, fault injection and GitHub's authentication rules for the REST API.

`/app...` endpoints take only the app's JWT; `/user...` only a person's user access token
(`sign_in.py`); everything else takes only an installation token minted by
`POST /app/installations/{id}/access_tokens`. Anything else is a 401.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable

import jwt
from aiohttp import web

from bot.testing.simulator.context import (
    TOKEN,
    USER,
    RecordedRequest,
    error,
    simulated,
)
from bot.testing.simulator.faults import apply_fault
from bot.testing.simulator.state import Token

API_PREFIX = "/api/v3"
JWT_MAX_LIFETIME = 600
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _auth_kind(header: str) -> str:
    scheme = header.partition(" ")[0].lower()
    return {"bearer": "bearer", "token": "token", "basic": "basic"}.get(scheme, "none")


@web.middleware
async def record_and_fault(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log every request, then answer with an injected fault if one matches."""
    path = request.path.removeprefix(API_PREFIX) or request.path
    sim = simulated(request)
    record = RecordedRequest(
        request.method,
        path,
        request.query_string,
        0,
        _auth_kind(request.headers.get("Authorization", "")),
    )
    sim.requests.append(record)
    response: web.StreamResponse | None = await apply_fault(request, path)
    if response is None:
        try:
            response = await handler(request)
        except web.HTTPException as e:
            record.status = e.status
            raise
    record.status = response.status
    return response


def verify_app_jwt(encoded: str, public_key: str, app_id: int) -> str | None:
    """Why GitHub would refuse this app JWT, or None if it is acceptable."""
    try:
        claims = jwt.decode(
            encoded,
            public_key,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"], "verify_iss": False},
        )
    except jwt.PyJWTError as e:
        return f"A JSON web token could not be decoded ({type(e).__name__})"
    if str(claims["iss"]) != str(app_id):
        return "Integration not found"
    if claims["exp"] - time.time() > JWT_MAX_LIFETIME:
        return "'Expiration time' claim ('exp') is too far in the future"
    return None


def installation_token(request: web.Request, header: str) -> Token | None:
    """The live installation token an Authorization header carries: `token X`, `bearer X`,
    or HTTP Basic with the token as password (as git sends it), else None."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            _user, _, value = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
    elif scheme.lower() not in ("token", "bearer"):
        return None
    return simulated(request).state.valid_token(value.strip())


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    sim = simulated(request)
    header = request.headers.get("Authorization", "")
    path = request.path.removeprefix(API_PREFIX)
    if path == "/app" or path.startswith("/app/"):
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            return error(401, "A JSON web token could not be decoded")
        refusal = verify_app_jwt(value, sim.public_key, sim.state.app.id)
        if refusal is not None:
            return error(401, refusal)
        return await handler(request)
    if path == "/rate_limit" and not header:
        return await handler(request)
    if path == "/user" or path.startswith("/user/"):
        scheme, _, value = header.partition(" ")
        person = sim.state.sign_ins.user_token(value.strip())
        if scheme.lower() not in ("token", "bearer") or person is None:
            return error(401, "Bad credentials")
        request[USER] = sim.state.user(person.login)
        return await handler(request)
    token = installation_token(request, header)
    if token is None:
        return error(401, "Bad credentials")
    request[TOKEN] = token
    return await handler(request)
