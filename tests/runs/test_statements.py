"""One SQL text per statement: each compiles to SQLite's and PostgreSQL's own placeholders."""

from __future__ import annotations

import re

import pytest

from bot.runs import accounting_statements, statements
from bot.runs.sql import POSTGRESQL, SQLITE, compile_sql

ALL = {
    name: value
    for module in (statements, accounting_statements)
    for name, value in vars(module).items()
    if name.isupper()
    and isinstance(value, str)
    and value.lstrip().startswith(("SELECT", "INSERT", "UPDATE", "DELETE"))
}


def test_a_name_used_twice_is_one_postgresql_parameter_and_two_sqlite_ones() -> None:
    sql = "UPDATE runs SET updated_at = :now, finished_at = CAST(:now AS TEXT) WHERE id = :run_id"
    text, pick = compile_sql(sql, POSTGRESQL)
    assert text == "UPDATE runs SET updated_at = $1, finished_at = CAST($1 AS TEXT) WHERE id = $2"
    assert pick({"run_id": 7, "now": 1.5, "unused": "x"}) == (1.5, 7)
    text, pick = compile_sql(sql, SQLITE)
    assert text == "UPDATE runs SET updated_at = ?, finished_at = CAST(? AS TEXT) WHERE id = ?"
    assert pick({"run_id": 7, "now": 1.5}) == (1.5, 1.5, 7)


def test_tokens_become_each_dialect_s_own_text() -> None:
    sql = "SELECT id FROM runs WHERE id = :run_id {for_update}"
    assert compile_sql(sql, POSTGRESQL)[0] == "SELECT id FROM runs WHERE id = $1 FOR UPDATE"
    assert compile_sql(sql, SQLITE)[0].rstrip() == "SELECT id FROM runs WHERE id = ?"


def test_a_statement_without_its_parameters_fails_before_the_database() -> None:
    _, pick = compile_sql("SELECT 1 WHERE :a = :b", SQLITE)
    with pytest.raises(TypeError, match="takes parameters a, b"):
        pick(None)
    with pytest.raises(KeyError):
        pick({"a": 1})


def test_the_hot_and_the_locking_statements_are_among_those_checked() -> None:
    assert {"RECORD_DELIVERY", "CLAIM_RUN", "LOCK_HELD_RUN", "TAKE_FEEDBACK"} <= set(ALL)


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_statement_compiles_for_both_databases(name: str) -> None:
    for dialect in (SQLITE, POSTGRESQL):
        text, _ = compile_sql(ALL[name], dialect)
        assert "{" not in text and not re.search(r"(?<![:\w]):[a-z_]", text), text
    numbers = {int(n) for n in re.findall(r"\$(\d+)", compile_sql(ALL[name], POSTGRESQL)[0])}
    assert numbers == set(range(1, len(numbers) + 1))
