"""Flaky tests remembered per repository, with the commit: SQLite and PostgreSQL alike."""

from __future__ import annotations

from bot.runs.store import RunStore


async def test_flaky_tests_are_remembered_per_repository_with_the_latest_commit(
    store: RunStore,
) -> None:
    await store.remember_flaky("octo/hello", "a" * 40, {"t.py::a": ["failed", "passed"]})
    await store.remember_flaky("octo/other", "c" * 40, {"t.py::a": ["passed", "error"]})
    await store.remember_flaky(
        "octo/hello", "b" * 40, {"t.py::a": ["passed", "failed"], "t.py::b": ["error", "passed"]}
    )
    known = await store.known_flaky("octo/hello")
    assert [(t.test_id, t.commit[0], t.outcomes) for t in known] == [
        ("t.py::a", "b", ["passed", "failed"]),
        ("t.py::b", "b", ["error", "passed"]),
    ]
    assert await store.known_flaky("octo/nobody") == []
    await store.remember_flaky("octo/hello", "d" * 40, {})
    assert len(await store.known_flaky("octo/hello")) == 2
