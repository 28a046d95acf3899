"""Everything the dashboard shows from the store and a trace is untrusted: an issue title,
the model's answer, a tool's output, a test's name, a diff and a pull request's URL carrying
script, attribute-breaking quotes and markup all reach the page as inert text."""

from __future__ import annotations

import aiohttp

from bot.runs.models import NewRun, RunState
from tests.dashboard.conftest import UI_TOKEN, Dashboard

SCRIPT = "<script>alert('pwned')</script>"
QUOTES = '"><img src=x onerror="alert(1)">'
MARKUP = "<b>bold</b><a href=javascript:alert(2)>click</a>"
HOSTILE = f"{SCRIPT} {QUOTES} {MARKUP}"
ESCAPED = (
    "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;",
    "&#34;&gt;&lt;img src=x onerror=&#34;alert(1)&#34;&gt;",
    "&lt;b&gt;bold&lt;/b&gt;&lt;a href=javascript:alert(2)&gt;click&lt;/a&gt;",
)


def events() -> list[dict[str, object]]:
    return [
        {"ts": 100.0, "kind": "claimed", "worker": HOSTILE, "attempt": 1},
        {"ts": 101.0, "kind": "solve_start", "issue": HOSTILE, "repo": "/tmp/x"},
        {
            "ts": 102.0,
            "kind": "model_request",
            "step": 1,
            "new_messages": [{"role": "user", "content": f"Fix: {HOSTILE}"}],
        },
        {
            "ts": 103.5,
            "kind": "model_response",
            "step": 1,
            "message": {
                "role": "assistant",
                "content": HOSTILE,
                "tool_calls": [{"id": "c1", "function": {"name": "bash", "arguments": HOSTILE}}],
            },
            "usage": {"prompt_tokens": 1200, "completion_tokens": 80, "cost_usd": 0.0042},
            "latency": 1.5,
        },
        {"ts": 104.0, "kind": "tool_call", "step": 1, "name": "bash", "arguments": HOSTILE},
        {
            "ts": 104.2,
            "kind": "tool_result",
            "step": 1,
            "name": "bash",
            "output": HOSTILE,
            "duration": 0.2,
        },
        {
            "ts": 106.0,
            "kind": "verification",
            "attempt": 1,
            "accepted": True,
            "reason": HOSTILE,
            "changes": [
                {
                    "id": HOSTILE,
                    "before": "failed",
                    "after": "passed",
                    "change": "proven",
                    "without_fix": "failed",
                    "note": HOSTILE,
                }
            ],
            "patch": f"--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-old\n+{HOSTILE}\n",
        },
        {"ts": 107.0, "kind": "policy_gates", "verdict": "allow", "reasons": [HOSTILE]},
    ]


async def get(dashboard: Dashboard, path: str) -> str:
    headers = {"Authorization": f"Bearer {UI_TOKEN}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(dashboard.url + path, headers=headers) as r,
    ):
        assert r.status == 200, await r.text()
        assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
        return await r.text()


def assert_inert(page: str) -> None:
    assert "<script" not in page
    assert "<img" not in page and "<b>bold" not in page and "javascript:alert(2)>" not in page
    for escaped in ESCAPED:
        assert escaped in page


async def test_a_runs_trace_and_records_are_shown_as_text(dashboard: Dashboard) -> None:
    run, _ = await dashboard.store.create_run(
        NewRun(repository="octo/app", issue=7, requester=QUOTES, trigger="label")
    )
    assert await dashboard.store.claim_run("w", 60, 3) is not None
    await dashboard.store.finish_run(run.id, "w", RunState.SUCCEEDED, HOSTILE, 0.0042)
    await dashboard.store.record_pull_request(run.id, "javascript:alert(3)")
    dashboard.write_trace(run.id, events())

    page = await get(dashboard, f"/ui/runs/{run.id}")
    assert_inert(page)
    assert page.count("&lt;script&gt;") >= 8  # title, prompt, answer, call, result, test, diff...
    assert 'href="javascript:' not in page  # a record's URL that is not http(s) is no link
    assert "1,200 in / 80 out tokens" in page and "$0.0042" in page and "took 1.50 s" in page
    assert '<span class="add">+&lt;script&gt;' in page  # the diff, coloured and escaped

    listing = await get(dashboard, "/ui/")
    assert "<img" not in listing and "&#34;&gt;&lt;img" in listing
    assert 'href="javascript:' not in listing
