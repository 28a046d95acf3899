"""Untrusted text in what Patchbot posts: no image, no raw HTML, no link syntax, and no URL
linked unless its host is allowed; the model's summary in a pull request body above all."""

from __future__ import annotations

import re

import pytest

from bot.github.markdown import code, fenced, link_allowed, linking, plain, quote
from bot.pipeline.texts import config_error_text, pr_body
from bot.policy.decisions import GateReport
from bot.settings import Settings
from bot.solve.outcome import SolveOutcome, SolveResult
from bot.solve.verify import Change, TestChange, Verification

EVIL = "evil.example"
ALLOWED = "github.com"
BEACONS = [
    f"![status](https://{EVIL}/pixel.png?reviewer=1)",
    f"![status][logo]\n\n[logo]: https://{EVIL}/logo.png",
    f"![logo]\n\n[logo]: https://{EVIL}/logo.png",
    f'<img src="https://{EVIL}/a.png">',
    f"<picture><source srcset='https://{EVIL}/b.png'></picture>",
    f"&lt;img src=https://{EVIL}/c.png&gt;",
    f"\\![x](https://{EVIL}/d.png)",
    f"![x\\](https://{EVIL}/e.png)",
    f"[![x](https://{EVIL}/f.png)](https://{EVIL}/g)",
    f"[click here](https://{EVIL}/phish)",
    f"[click here](<https://{EVIL}/phish>)",
    f"<https://{EVIL}/autolink>",
    f"see https://{EVIL}/bare and www.{EVIL}/bare too",
    f"_www.{EVIL}/after-underscore and (https://{EVIL}/in-parens)",
    f"https://{ALLOWED}@{EVIL}/user-info and https://{ALLOWED}.{EVIL}/suffix",
    f"HTTPS://{EVIL.upper()}/upper",
    f"`code` https://{EVIL}/after-code `more`",
]


def linked_or_embedded(markdown: str) -> list[str]:
    """What would make GitHub fetch or link a URL: link or image syntax, raw HTML, and URLs
    GitHub autolinks (a scheme or `www.` right before a host) to other than the allowed host."""
    problems = re.findall(r"\]\(|\]\[|\]:|<[A-Za-z!/?]", markdown)
    for match in re.finditer(r"(?i)(?:https?|ftp)://\S+|www\.\S+", markdown):
        if not re.match(rf"(?i)https://{re.escape(ALLOWED)}/", match.group()):
            problems.append(match.group())
    return problems


@pytest.mark.parametrize("text", BEACONS)
def test_untrusted_text_carries_no_image_html_or_foreign_link(text: str) -> None:
    with linking([ALLOWED]):
        for shown in (quote(text), plain(text)):
            assert linked_or_embedded(shown) == []
            assert EVIL in shown.replace("\u200b", "").lower()  # still shown, as text


def test_links_to_the_allowed_host_stay_links() -> None:
    text = f"Fixes https://{ALLOWED}/octo/demo/issues/1 and https://docs.{ALLOWED}/x."
    with linking([ALLOWED]):
        assert quote(text) == f"> {text}"
    assert "https\u200b://" in quote(text)  # no block: nothing is linked


def test_hosts_are_matched_exactly_or_as_subdomains() -> None:
    with linking(["github.com"]):
        assert link_allowed("https://github.com/a")
        assert link_allowed("https://api.GitHub.com/a")
        assert not link_allowed("https://notgithub.com/a")
        assert not link_allowed("https://github.com.evil.example/a")
        assert not link_allowed("https://github.com@evil.example/a")
        assert not link_allowed("https://user:pw@github.com/a")
        assert not link_allowed("ftp://github.com/a")
    assert not link_allowed("https://github.com/a")


def test_mentions_and_markers_are_defused() -> None:
    shown = quote("@octocat <!-- patchbot:status run=1 -->")
    assert "@octocat" not in shown and "<!--" not in shown


def test_code_and_fences_keep_their_text() -> None:
    text = f"![x](https://{EVIL}/p.png) a[0]"
    assert code(text) == f"`{text}`"
    assert fenced(text) == f"```\n{text}\n```"


def test_link_hosts_default_to_the_github_host() -> None:
    assert Settings.from_env({}).link_hosts == ("github.com",)
    ghes = Settings.from_env({"GITHUB_API_URL": "https://git.corp.example/api/v3"})
    assert ghes.link_hosts == ("git.corp.example",)
    chosen = Settings.from_env({"PATCHBOT_LINK_HOSTS": "github.com, docs.corp.example"})
    assert chosen.link_hosts == ("github.com", "docs.corp.example")


def _verified(summary: str) -> SolveResult:
    verification = Verification(
        accepted=True,
        reason="1 fixed",
        changes=[TestChange(id="t.py::test_a", before=None, after=None, change=Change.FIXED)],
        baseline_summary="1 failed",
        candidate_summary="1 passed",
    )
    return SolveResult(
        stop_reason=SolveOutcome.VERIFIED,
        detail="verified",
        patch="",
        summary=summary,
        base_commit="0" * 40,
        verification=verification,
    )


def test_an_image_in_the_model_summary_never_reaches_the_pull_request_body() -> None:
    summary = "\n".join(BEACONS)
    with linking([ALLOWED]):
        body = pr_body(7, 3, _verified(summary), "openai/x", GateReport(decisions=[]), [])
    model_part = body[body.index("## What changed") : body.index("## Tests")]
    assert linked_or_embedded(model_part) == []
    assert "pixel.png" in model_part  # quoted as text for the reviewer to see


def test_a_config_error_cannot_close_its_fence() -> None:
    shown = config_error_text(1, f"bad key\n```\n![x](https://{EVIL}/p.png)")
    assert shown.count("````") == 2
