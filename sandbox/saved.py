"""Saved queries and a searchable query history, per enterprise.

A saved query is a name, a licence, SQL and an ε. Rerunning one goes through `queries.run` like any
query: it is checked, priced and charged the same way, and an identical query returns its stored
answer at no cost (saving a query never lets anyone re-ask it for fresh noise). Search is plain text,
case-insensitive, over names and SQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, or_, select

from core.audit import record
from core.auth import Principal
from core.errors import NotFound
from licensing.service import license_service
from sandbox.errors import SavedQueryNameTaken
from sandbox.models import QueryRun, SavedQuery
from sandbox.schemas import (
    QueryCreate,
    QueryPage,
    QueryResult,
    QuerySummary,
    SavedQueryCreate,
    SavedQueryPage,
    SavedQueryRead,
    SavedQueryRun,
)
from sandbox.service import queries
from sandbox.templates import templates


def _matching(text: str | None, *columns: Any) -> Any:
    """A case-insensitive substring match on any of the columns (LIKE wildcards in the text are literal)."""
    needle = (text or "").strip().lower()
    return or_(*(func.lower(c).contains(needle, autoescape=True) for c in columns)) if needle else None


class SavedQueryService:
    def save(self, session: Session, who: Principal, body: SavedQueryCreate) -> SavedQueryRead:
        """Keep a query by name, on one of the enterprise's licences."""
        license_service.get(session, who, body.license_id)  # 404 unless it is the caller's
        row = SavedQuery(organization_id=who.organization_id, license_id=body.license_id, created_by=who.user_id,
                         name=body.name.strip(), sql=body.sql.strip(), epsilon=body.epsilon)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:
            raise SavedQueryNameTaken(f"You already have a saved query named {row.name!r}: pick another name",
                                      zh=f"已有名为「{row.name}」的保存查询：请换一个名称") from None
        record(session, who.actor, "query.saved", "saved_query", row.id, {"name": row.name,
                                                                          "license_id": row.license_id})
        return SavedQueryRead.model_validate(row, from_attributes=True)

    def list(self, session: Session, who: Principal, q: str | None, limit: int, offset: int) -> SavedQueryPage:
        """The enterprise's saved queries, newest first; `q` searches names and SQL."""
        query = select(SavedQuery).where(SavedQuery.organization_id == who.organization_id)
        matching = _matching(q, SavedQuery.name, SavedQuery.sql)
        if matching is not None:
            query = query.where(matching)
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        rows = session.exec(query.order_by(col(SavedQuery.id).desc()).limit(limit).offset(offset)).all()
        return SavedQueryPage(items=[SavedQueryRead.model_validate(r, from_attributes=True) for r in rows],
                              total=int(total))

    def _own(self, session: Session, who: Principal, saved_id: int) -> SavedQuery:
        row = session.get(SavedQuery, saved_id)
        if row is None or row.organization_id != who.organization_id:
            raise NotFound(f"No saved query {saved_id} of yours", zh=f"没有您的保存查询 {saved_id}")
        return row

    def get(self, session: Session, who: Principal, saved_id: int) -> SavedQueryRead:
        return SavedQueryRead.model_validate(self._own(session, who, saved_id), from_attributes=True)

    def delete(self, session: Session, who: Principal, saved_id: int) -> None:
        row = self._own(session, who, saved_id)
        session.delete(row)
        record(session, who.actor, "query.unsaved", "saved_query", saved_id, {"name": row.name})

    def run(self, session: Session, who: Principal, saved_id: int, body: SavedQueryRun) -> QueryResult:
        """Run a saved query through the normal path (checked, charged, or answered from storage)."""
        return queries.run(session, who, self.query_for(session, who, saved_id, body))

    def query_for(self, session: Session, who: Principal, saved_id: int, body: SavedQueryRun) -> QueryCreate:
        """The query a rerun of a saved one asks: its SQL, on the licence and ε asked, else its own."""
        row = self._own(session, who, saved_id)
        epsilon = body.epsilon if body.epsilon is not None else row.epsilon
        return QueryCreate(license_id=body.license_id or row.license_id, sql=row.sql, epsilon=epsilon)

    def history(self, session: Session, who: Principal, q: str | None, license_id: int | None, limit: int,
                offset: int) -> QueryPage:
        """The enterprise's query history, newest first; `q` searches the SQL."""
        query = select(QueryRun).where(QueryRun.organization_id == who.organization_id,
                                       col(QueryRun.status).in_(("succeeded", "refunded")))
        matching = _matching(q, QueryRun.sql)
        if matching is not None:
            query = query.where(matching)
        if license_id is not None:
            query = query.where(QueryRun.license_id == license_id)
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        runs = session.exec(query.order_by(col(QueryRun.id).desc()).limit(limit).offset(offset)).all()
        items = [QuerySummary(id=r.id or 0, license_id=r.license_id, sql=r.sql, status=r.status,
                              epsilon_charged=r.epsilon_charged, created_at=r.created_at,
                              error=None if r.status == "succeeded" else "refunded: nothing was released",
                              template=templates.ref(session, r.template_id))
                 for r in runs]
        return QueryPage(items=items, total=int(total))


saved_queries = SavedQueryService()
