"""Make tables append-only: the database itself refuses UPDATE and DELETE on their rows.

On PostgreSQL a row trigger calls `shuyu_refuse_change()` (created by revision 0001); on SQLite a
trigger per verb raises. Shared by the revisions that add such tables; changing it changes history,
so only ever add to it.
"""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op


def make_append_only(tables: Iterable[str]) -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in tables:
        if postgres:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION shuyu_refuse_change()")
            continue
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END")


def drop_append_only(tables: Iterable[str]) -> None:
    """Undo `make_append_only` on PostgreSQL (SQLite drops a table's triggers with the table)."""
    if op.get_bind().dialect.name == "postgresql":
        for table in tables:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
