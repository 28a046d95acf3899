"""The app JWT and installation tokens, against the simulator's real HTTP endpoints."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest

from bot.errors import ConfigError
from bot.github.auth import InstallationTokens, app_jwt
from bot.github.client import GitHubApp
from bot.testing.simulator import GitHubSimulator
from bot.testing.simulator.keys import public_key_of
from bot.testing.simulator.state import Installation

TOKEN_PATH = "/app/installations/7/access_tokens"


def token_requests(github: GitHubSimulator) -> int:
    return sum(r.method == "POST" and r.path == TOKEN_PATH for r in github.requests)


def test_app_jwt_is_rs256_signed_with_backdated_short_lived_claims(
    github: GitHubSimulator,
) -> None:
    before = int(time.time())
    encoded = app_jwt(github.app_id, github.private_key_pem)

    claims = jwt.decode(encoded, public_key_of(github.private_key_pem), algorithms=["RS256"])
    assert jwt.get_unverified_header(encoded)["alg"] == "RS256"
    assert claims["iss"] == str(github.app_id)
    assert before - 61 <= claims["iat"] <= int(time.time()) - 59
    assert claims["exp"] - claims["iat"] <= 600
    assert claims["exp"] > time.time()


def test_app_jwt_from_another_key_does_not_verify(github: GitHubSimulator) -> None:
    from bot.testing.simulator import generate_private_key

    encoded = app_jwt(github.app_id, generate_private_key())
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(encoded, public_key_of(github.private_key_pem), algorithms=["RS256"])


def test_unusable_private_key_names_the_setting_to_fix() -> None:
    with pytest.raises(ConfigError, match="PRIVATE_KEY"):
        app_jwt(1, "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----")


async def test_concurrent_callers_share_one_token_request(
    github: GitHubSimulator, app: GitHubApp, installation: Installation
) -> None:
    tokens = await asyncio.gather(*(app.installation_token(installation.id) for _ in range(10)))

    assert len(set(tokens)) == 1
    assert github.state.valid_token(tokens[0]) is not None
    assert token_requests(github) == 1


async def test_token_is_reused_then_refreshed_shortly_before_expiry(
    github: GitHubSimulator, app: GitHubApp, installation: Installation
) -> None:
    clock = [time.time()]
    tokens = InstallationTokens(
        github.app_id,
        github.private_key_pem,
        app._request_token,
        refresh_margin=300,
        clock=lambda: clock[0],
    )
    first = await tokens.get(installation.id)
    clock[0] += 3000  # 10 minutes before the hour-long token expires
    assert await tokens.get(installation.id) == first
    clock[0] += 400  # now within the refresh margin
    second = await tokens.get(installation.id)

    assert second != first
    assert token_requests(github) == 2


async def test_revoked_token_is_replaced_and_the_call_succeeds(
    github: GitHubSimulator, app: GitHubApp, installation: Installation
) -> None:
    api = await app.installation_api(installation.id)
    github.state.tokens.clear()  # GitHub revoked every token

    repo = await api.getitem("/repos/octo/demo")

    assert repo["full_name"] == "octo/demo"
    assert token_requests(github) == 2
    assert [r.status for r in github.requests if r.path == "/repos/octo/demo"] == [401, 200]


async def test_unknown_installation_fails_when_the_api_is_built(app: GitHubApp) -> None:
    from bot.github.errors import GitHubCallFailed

    with pytest.raises(GitHubCallFailed, match=r"POST /api/v3/app/installations/999/access_tokens"):
        await app.installation_api(999)
