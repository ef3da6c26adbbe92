"""Many rows of one table in one INSERT statement.

An ``executemany`` INSERT (what SQLAlchemy and the ORM issue for a list of rows) reaches
PostgreSQL as one Bind and Execute per row, even inside psycopg's pipeline: the server starts an
executor, inserts one row and ends it, once per row. A batch of 50 trials of a 17-parameter
space is about 1,250 rows (17 parameters, 2 system attributes, a record, 2 values and a
heartbeat each): about 1,300 executions a batch. :func:`insert_rows` writes a table's rows as one
``INSERT ... VALUES (...), (...), ...`` per chunk (as many rows as the database's limit on bound
parameters allows, at most :data:`ROWS_PER_STATEMENT`): one statement per table per batch.

Values pass through each column's own SQLAlchemy type (the dialect's bind processor), so what
is stored is what the ORM would have stored (an enum's name, SQLite's datetime text, ...).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

__all__ = ["ROWS_PER_STATEMENT", "insert_rows", "multirow_supported"]

#: Rows per INSERT statement at most.
ROWS_PER_STATEMENT = 1000

#: The driver's positional placeholder, by DBAPI paramstyle.
_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def multirow_supported(dialect) -> bool:
    """Whether :func:`insert_rows` can write for ``dialect`` (a positional paramstyle and
    multi-row VALUES)."""
    return dialect.paramstyle in _PLACEHOLDER and bool(getattr(dialect, "supports_multivalues_insert", False))


def _max_binds(dialect) -> int:
    if dialect.name == "sqlite":
        import sqlite3

        return 32766 if sqlite3.sqlite_version_info >= (3, 32) else 999
    return 32767  # PostgreSQL and MySQL allow 65,535; a margin for other drivers


@functools.lru_cache(maxsize=64)
def _processors(table, columns: tuple[str, ...], dialect) -> tuple:
    return tuple(table.c[name].type._cached_bind_processor(dialect) for name in columns)


def insert_rows(
    session,
    table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    literals: dict[str, str] | None = None,
    returning: Sequence[str] = (),
) -> list[tuple]:
    """INSERT ``rows`` (each a tuple of values for ``columns``) into ``table`` (a SQLAlchemy
    ``Table``) within ``session``'s transaction, one statement per chunk. ``literals``: columns
    given as SQL text, the same for every row (e.g. ``CURRENT_TIMESTAMP``). ``returning``:
    columns read back, as tuples, in no particular order (the caller matches them by a unique
    column). Call only where :func:`multirow_supported` holds."""
    if not rows:
        return []
    conn = session.connection()
    dialect = conn.dialect
    ph = _PLACEHOLDER[dialect.paramstyle]
    columns = tuple(columns)
    procs = _processors(table, columns, dialect)
    literals = dict(literals or {})
    names = ", ".join(dialect.identifier_preparer.quote(c) for c in (*columns, *literals))
    one = "(" + ", ".join([ph] * len(columns) + list(literals.values())) + ")"
    tail = ""
    if returning:
        tail = " RETURNING " + ", ".join(dialect.identifier_preparer.quote(c) for c in returning)
    head = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) VALUES "
    step = max(1, min(ROWS_PER_STATEMENT, _max_binds(dialect) // max(1, len(columns))))
    out: list[tuple] = []
    for lo in range(0, len(rows), step):
        chunk = rows[lo : lo + step]
        params = [p(v) if p is not None else v for row in chunk for p, v in zip(procs, row, strict=True)]
        result = conn.exec_driver_sql(head + ", ".join([one] * len(chunk)) + tail, tuple(params))
        if returning:
            out += [tuple(r) for r in result.fetchall()]
    return out
