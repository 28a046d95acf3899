"""Getting into the dashboard: a person signs in with GitHub through the App's web flow (the
simulator's) and sees only the repositories they can read; the session is a signed, HttpOnly,
SameSite=Lax cookie with an expiry; a sign-in that did not start here is refused; machines
use the bearer token."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import aiohttp

from bot.runs.models import NewRun
from bot.runs.views import RunFilter
from tests.dashboard.conftest import UI_TOKEN, Dashboard


def seed(dashboard: Dashboard) -> None:
    """Two installed repositories: alice may read octo/open only; octo/secret is not hers."""
    github = dashboard.github
    github.add_repo("octo/open")
    github.add_repo("octo/secret")
    github.add_installation("octo", ["octo/open", "octo/secret"])
    github.add_collaborator("octo/open", "alice", "read")


async def runs_in(dashboard: Dashboard) -> None:
    for repository in ("octo/open", "octo/secret"):
        await dashboard.store.create_run(
            NewRun(repository=repository, issue=1, requester="bob", trigger="label")
        )


async def sign_in(http: aiohttp.ClientSession, dashboard: Dashboard, login: str) -> str:
    """Open the runs page, get sent to GitHub, sign in as `login`: the page landed on."""
    async with http.get(f"{dashboard.url}/ui/") as page:
        assert page.url.path == "/login/oauth/authorize"  # sent to (simulated) GitHub
        form = await page.text()
    fields = dict(re.findall(r'name="(client_id|redirect_uri|state)" value="([^"]*)"', form))
    async with http.post(
        f"{dashboard.github.url}/login/oauth/authorize", data={**fields, "login": login}
    ) as landed:
        assert landed.status == 200, await landed.text()
        return await landed.text()


async def test_a_person_signs_in_and_sees_only_what_they_can_read(dashboard: Dashboard) -> None:
    seed(dashboard)
    await runs_in(dashboard)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        page = await sign_in(http, dashboard, "alice")
        assert '<b id="login">alice</b>' in page
        assert "octo/open#1" in page and "octo/secret" not in page
        [secret] = await dashboard.store.search_runs(RunFilter(repository="octo/secret"), limit=1)
        async with http.get(f"{dashboard.url}/ui/runs/{secret.id}") as hidden:
            assert hidden.status == 404
        async with http.get(f"{dashboard.url}/ui/?repo=octo/secret") as asked:
            assert "0 runs" in await asked.text()
        async with http.post(f"{dashboard.url}/ui/logout") as out:
            assert out.url.path == "/login/oauth/authorize"  # signed out: asked to sign in


async def test_the_session_cookie_is_signed_httponly_lax_and_expires(dashboard: Dashboard) -> None:
    seed(dashboard)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{dashboard.url}/ui/", allow_redirects=False) as first:
            started = await http.get(
                f"{dashboard.url}{first.headers['Location']}", allow_redirects=False
            )
        sign_in_cookie = SimpleCookie(started.headers["Set-Cookie"])["patchbot_sign_in"]
        assert sign_in_cookie["httponly"] and sign_in_cookie["samesite"] == "Lax"
        assert int(sign_in_cookie["max-age"]) == 600
        page = await sign_in(http, dashboard, "alice")
        assert '<b id="login">alice</b>' in page
        session = next(c for c in http.cookie_jar if c.key == "patchbot_session")
        assert session["httponly"] and session["samesite"] == "Lax"
        assert int(session["max-age"]) == 8 * 3600 and session["path"] == "/ui/"
        payload, _, signature = session.value.partition(".")
        forged = f"{payload}.{'A' * len(signature)}"
    async with aiohttp.ClientSession() as http:
        cookies = {"patchbot_session": forged}
        async with http.get(f"{dashboard.url}/ui/", cookies=cookies, allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"].startswith("/ui/login")


async def test_a_callback_without_the_state_it_was_sent_with_is_refused(
    dashboard: Dashboard,
) -> None:
    seed(dashboard)
    code = dashboard.github.state.sign_ins.grant("alice", f"{dashboard.url}/ui/callback")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        # A link from another site: no sign-in started in this browser.
        async with http.get(f"{dashboard.url}/ui/callback?code={code}&state=guess") as forged:
            assert forged.status == 403 and "did not start here" in await forged.text()
        async with http.get(f"{dashboard.url}/ui/login", allow_redirects=False):
            pass  # a sign-in started, with a state this test does not send back
        async with http.get(f"{dashboard.url}/ui/callback?code={code}&state=other") as wrong:
            assert wrong.status == 403
        assert not any(c.key == "patchbot_session" for c in http.cookie_jar)


async def test_a_code_is_good_once(dashboard: Dashboard) -> None:
    seed(dashboard)
    sign_ins = dashboard.github.state.sign_ins
    code = sign_ins.grant("alice", "http://127.0.0.1:1/ui/callback")
    first = sign_ins.exchange(sign_ins.client_id, sign_ins.client_secret, code, "")
    assert first.startswith("ghu_")
    again = sign_ins.exchange(sign_ins.client_id, sign_ins.client_secret, code, "")
    assert again == "bad_verification_code"
    other = sign_ins.grant("alice", "http://127.0.0.1:1/ui/callback")
    assert sign_ins.exchange(sign_ins.client_id, "wrong", other, "") == (
        "incorrect_client_credentials"
    )


async def test_machines_use_the_token_and_a_wrong_one_is_refused(dashboard: Dashboard) -> None:
    seed(dashboard)
    await runs_in(dashboard)
    async with aiohttp.ClientSession() as http:
        good = {"Authorization": f"Bearer {UI_TOKEN}"}
        async with http.get(f"{dashboard.url}/ui/", headers=good) as page:
            text = await page.text()
            assert page.status == 200 and "octo/open#1" in text and "octo/secret#1" in text
        bad = {"Authorization": f"Bearer {UI_TOKEN}x"}
        async with http.get(f"{dashboard.url}/ui/", headers=bad) as refused:
            assert refused.status == 401


async def test_the_kpi_page_counts_only_the_repositories_a_person_reads(
    dashboard: Dashboard,
) -> None:
    seed(dashboard)
    await runs_in(dashboard)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await sign_in(http, dashboard, "alice")
        async with http.get(f"{dashboard.url}/ui/kpi") as kpis:
            page = await kpis.text()
    assert "<h2>octo/open</h2>" in page and "octo/secret" not in page
    assert "runs<b>1</b>1 first, 0 revisions" in page
    assert page.count("<svg") == 2


async def test_behind_a_proxy_github_sends_people_back_to_the_public_url(
    dashboard: Dashboard,
) -> None:
    dashboard.settings.public_url = "https://patchbot.example.com/"
    login = f"{dashboard.url}/ui/login"
    async with aiohttp.ClientSession() as http, http.get(login, allow_redirects=False) as sent:
        query = parse_qs(urlsplit(sent.headers["Location"]).query)
    assert query["redirect_uri"] == ["https://patchbot.example.com/ui/callback"]


async def test_a_garbled_cookie_or_page_number_is_refused_not_an_error(
    dashboard: Dashboard,
) -> None:
    async with aiohttp.ClientSession() as http:
        odd = {"Cookie": "patchbot_session=abc.\u00e9"}
        async with http.get(f"{dashboard.url}/ui/", headers=odd, allow_redirects=False) as page:
            assert page.status == 302  # to the sign-in, as with no cookie
        token = {"Authorization": f"Bearer {UI_TOKEN}"}
        huge = f"{dashboard.url}/ui/?page={'9' * 30}"
        async with http.get(huge, headers=token) as page:
            assert page.status == 400 and "not a page number" in await page.text()
