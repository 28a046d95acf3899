"""What a person's user access token (`sign_in.py`) reads: who they are, and the app's
installations and repositories they can reach."""

from __future__ import annotations

from aiohttp import web

from bot.testing.simulator.context import USER, answer, found, paginate, simulated
from bot.testing.simulator.shapes import installation_json, repo_json, user_json
from bot.testing.simulator.sign_in import can_read
from bot.testing.simulator.state import Installation, Repo, SimulatorState, User

routes = web.RouteTableDef()


@routes.get("/user")
async def get_user(request: web.Request) -> web.Response:
    """The signed-in person, as GitHub shows them to themselves (a private user)."""
    sim = simulated(request)
    user: User = request[USER]
    owned = [repo for repo in sim.state.repos.values() if repo.owner.login == user.login]
    profile = dict.fromkeys(("name", "company", "blog", "location", "email", "bio"))
    counts = dict.fromkeys(
        ("public_gists", "followers", "following", "private_gists", "disk_usage", "collaborators"),
        0,
    )
    return answer(
        {
            **user_json(user, sim.urls),
            **profile,
            **counts,
            "hireable": None,
            "public_repos": sum(not repo.private for repo in owned),
            "total_private_repos": sum(repo.private for repo in owned),
            "owned_private_repos": sum(repo.private for repo in owned),
            "two_factor_authentication": True,
            "created_at": "2020-01-01T00:00:00Z",
            "updated_at": "2020-01-01T00:00:00Z",
        }
    )


def _readable(state: SimulatorState, user: User, installation: Installation) -> list[Repo]:
    names = sorted(installation.repositories)
    return [state.repos[name] for name in names if can_read(user, state.repos[name])]


@routes.get("/user/installations")
async def user_installations(request: web.Request) -> web.Response:
    """The app's installations on accounts where the person can read a covered repository."""
    sim = simulated(request)
    state, user = sim.state, request[USER]
    reached = [i for i in state.installations.values() if _readable(state, user, i)]
    page, headers = paginate(request, reached)
    shown = [installation_json(state.app, i, sim.urls) for i in page]
    return answer({"total_count": len(reached), "installations": shown}, headers=headers)


@routes.get("/user/installations/{installation_id}/repositories")
async def user_installation_repositories(request: web.Request) -> web.Response:
    sim = simulated(request)
    number = request.match_info["installation_id"]
    installation = found(sim.state.installations.get(int(number)) if number.isdigit() else None)
    repos = found(_readable(sim.state, request[USER], installation) or None)
    page, headers = paginate(request, repos)
    body = {
        "total_count": len(repos),
        "repository_selection": "selected",
        "repositories": [repo_json(repo, sim.urls) for repo in page],
    }
    return answer(body, headers=headers)
