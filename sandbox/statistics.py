"""Open statistics (数据社会化): differentially private tables of a listing, published free to everyone.

The data office picks a few aggregate queries — the same SQL the sandbox answers for licensees — and an ε
for each. The whole set is charged once, all or nothing, to the dataset version's *global* budget (the
total its data may ever lose, shared with every licensee), then each query becomes an ordinary sandbox job:
the same compiler, the same worker processes, the same exactly-once job rows, the same signed receipt.
Only a released (`succeeded`) table is ever shown to the public; a table whose job failed before touching
the data gives its ε back to the global budget, by the refund rule every query follows.

Nothing here reads the data: the tables are the jobs' DP output and the ± their plans imply. Grouping by
keys that are not public is never allowed here (it would need δ, and a public table must not reveal keys).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from core.audit import record
from core.auth import Principal
from core.config import get_settings
from core.db import unit_of_work
from core.errors import NotFound
from core.receipts import canonical, dataset_version
from licensing.service import budget, license_service
from market.service import DatasetTarget
from market.service import listings as listing_service
from market.service.common import get_listing
from sandbox import jobs, refusals_zh
from sandbox import sql as sql_parser
from sandbox.errors import EpsilonNotAllowed, QueryRefused
from sandbox.exports import table as table_with_plus_minus
from sandbox.exports import unit_words
from sandbox.models import OpenStatistic, OpenStatisticTable, QueryRun
from sandbox.plan import Compiled, compile_query
from sandbox.schemas import (
    Accuracy,
    OpenQuery,
    OpenQueryPreview,
    OpenStatisticCreate,
    OpenStatisticPage,
    OpenStatisticPreview,
    OpenStatisticRead,
    OpenTableRead,
    PrivacyUnit,
    Receipt,
)
from sandbox.service import policy_of, table_info
from sandbox.spec import Policy, QuerySpec, TableInfo


@dataclass(frozen=True)
class _Table:
    """One checked, priced query of the set."""

    query: OpenQuery
    spec: QuerySpec
    compiled: Compiled


@dataclass(frozen=True)
class _Set:
    target: DatasetTarget
    table: TableInfo
    policy: Policy
    tables: list[_Table]

    @property
    def costs(self) -> list[float]:
        return [t.compiled.epsilon_cost for t in self.tables]

    def job(self, who: Principal, entry: _Table, charged_to: tuple[int, int]) -> dict[str, Any]:
        """What any sandbox node needs to run, sign and store one table (the enterprise job's fields)."""
        target = self.target
        return {"payload": {"spec": entry.spec.to_dict(), "table": self.table.to_dict(),
                            "policy": self.policy.to_dict(), "epsilon": entry.query.epsilon,
                            "epsilon_charged": entry.compiled.epsilon_cost,
                            "storage_key": target.storage_key, "sealed_key": target.sealed_key},
                "actor": [who.user_id, who.role.value, who.organization_id],
                "epsilon_charged": entry.compiled.epsilon_cost, "delta_charged": 0.0,
                "accuracy_note": entry.compiled.accuracy_note,
                "dataset_version": dataset_version(get_settings(), target.dataset_version_id, target.dataset_sha256),
                "privacy_unit": {"column": self.table.privacy_unit, "max_contributions": self.table.max_contributions},
                "open_statistics": {"listing_id": target.listing_id, "dataset_id": charged_to[0],
                                    "budget_version_id": charged_to[1]}}


class OpenStatisticsService:
    def _prepare(self, session: Session, listing_id: int, queries: list[OpenQuery]) -> _Set:
        listing_service.get_published(session, listing_id)  # only a product in the catalog: 404 otherwise
        target = listing_service.query_target(session, listing_id)
        table = table_info(target)
        policy = replace(policy_of(target), allow_unknown_keys=False, delta=0.0)
        return _Set(target, table, policy, [self._check(target, table, policy, n, q) for n, q in enumerate(queries, 1)])

    def _check(self, target: DatasetTarget, table: TableInfo, policy: Policy, n: int, query: OpenQuery) -> _Table:
        cap = target.dp_policy.max_epsilon_per_query
        if not target.dp_policy.allows_epsilon(query.epsilon):
            raise EpsilonNotAllowed(f"Table {n}: this listing allows at most ε={cap:g} per query; it asks "
                                    f"ε={query.epsilon:g}",
                                    zh=f"第 {n} 张表：该数据产品每次查询的 ε 上限为 {cap:g}，"
                                       f"该表申请的是 ε={query.epsilon:g}")
        try:
            spec = sql_parser.parse(query.sql, table, policy)
            return _Table(query, spec, compile_query(spec, table, policy, query.epsilon))
        except sql_parser.QueryNotAllowed as exc:
            said = refusals_zh.translate(exc.reason, exc.line, exc.col)
            raise QueryRefused(f"Table {n} ({query.title}): {exc.detail}", zh=f"第 {n} 张表（{query.title}）：{said}"
                               ) from None

    def preview(self, session: Session, listing_id: int, body: OpenStatisticCreate) -> OpenStatisticPreview:
        """What the tables would cost together against the dataset's global budget, and their ±; charges nothing."""
        checked = self._prepare(session, listing_id, body.queries)
        total = sum(checked.costs)
        left = budget.dataset_remaining(session, listing_id)
        return OpenStatisticPreview(
            listing_id=listing_id, epsilon_total=total, epsilon_remaining=left,
            global_epsilon_cap=checked.target.dp_policy.global_cap, epsilon_remaining_after=max(0.0, left - total),
            fits=total <= left + 1e-9,
            queries=[OpenQueryPreview(title=t.query.title, sql=t.query.sql, epsilon_cost=t.compiled.epsilon_cost,
                                      accuracy={k: Accuracy(plus_minus=v) for k, v in t.compiled.accuracy.items()},
                                      accuracy_note=t.compiled.accuracy_note) for t in checked.tables])

    def publish(self, session: Session, who: Principal, listing_id: int,
                body: OpenStatisticCreate) -> tuple[int, Sequence[int]]:
        """Charge the whole set to the dataset's global budget and queue one sandbox job per table.

        The charge and the jobs commit together in their own transaction, before any noisy value exists (the
        same rule as a licensee's query), so the request's session is released first. Returns the new
        statistic's id and its jobs' ids."""
        checked = self._prepare(session, listing_id, body.queries)
        session.close()
        dispatch = jobs.dispatcher()
        dispatch.admit()
        with unit_of_work() as uow:
            charged_to = license_service.reserve_open_statistics(uow, listing_id, checked.costs)
            statistic = OpenStatistic(listing_id=listing_id, dataset_version_id=checked.target.dataset_version_id,
                                      title=body.title, description=body.description,
                                      epsilon_total=sum(checked.costs), created_by=who.user_id)
            uow.add(statistic)
            uow.flush()
            run_ids = [self._queue(uow, who, checked, entry, n, statistic.id or 0, charged_to, dispatch)
                       for n, entry in enumerate(checked.tables)]
            record(uow, who.actor, "open_statistics.published", "open_statistic", statistic.id, {
                "listing_id": listing_id, "title": body.title, "epsilon_total": statistic.epsilon_total,
                "tables": [{"title": t.query.title, "sql": t.spec.normalized_sql, "epsilon": t.compiled.epsilon_cost}
                           for t in checked.tables]})
            statistic_id = statistic.id or 0
        for run_id in run_ids:
            dispatch.submit(run_id)
        return statistic_id, run_ids

    def _queue(self, uow: Session, who: Principal, checked: _Set, entry: _Table, position: int, statistic_id: int,
               charged_to: tuple[int, int], dispatch: jobs.Dispatcher) -> int:
        run = QueryRun(license_id=None, organization_id=who.organization_id, user_id=who.user_id,
                       dataset_version_id=checked.target.dataset_version_id, sql=entry.query.sql,
                       normalized_sql=entry.spec.normalized_sql, fingerprint=f"open-{statistic_id}-{position}",
                       epsilon_requested=entry.query.epsilon, epsilon_charged=entry.compiled.epsilon_cost,
                       job=checked.job(who, entry, charged_to), **jobs.queued_fields(get_settings(), dispatch.owner))
        uow.add(run)
        uow.flush()
        dispatch.enqueue(uow, run.id or 0)
        uow.add(OpenStatisticTable(statistic_id=statistic_id, position=position, title=entry.query.title,
                                   query_run_id=run.id or 0))
        return run.id or 0

    # reading: the public sees released tables only; the data office sees every table's job status

    def list(self, session: Session, listing_id: int | None, limit: int, offset: int, *,
             public: bool = True) -> OpenStatisticPage:
        """Open statistics, newest first (the public: those with at least one released table)."""
        query = _released() if public else select(OpenStatistic)
        if listing_id is not None:
            query = query.where(OpenStatistic.listing_id == listing_id)
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        rows = session.exec(query.order_by(col(OpenStatistic.id).desc()).limit(limit).offset(offset)).all()
        return OpenStatisticPage(items=[self._read(session, s, public) for s in rows], total=int(total))

    def published_between(self, session: Session, start: datetime, end: datetime) -> Sequence[OpenStatisticRead]:
        """Open statistics created in [start, end) with a released table (the annual disclosure lists them)."""
        created = col(OpenStatistic.created_at)
        rows = session.exec(_released().where(created >= start, created < end).order_by(col(OpenStatistic.id))).all()
        return [self._read(session, s, True) for s in rows]

    def get(self, session: Session, statistic_id: int, *, public: bool = True) -> OpenStatisticRead:
        """One open statistic with its tables (the public: only released ones, and 404 while none is)."""
        statistic = session.get(OpenStatistic, statistic_id)
        read = self._read(session, statistic, public) if statistic is not None else None
        if read is None or (public and not read.tables):
            raise NotFound(f"No open statistic {statistic_id}", zh=f"没有编号为 {statistic_id} 的公开统计")
        return read

    def table(self, session: Session, statistic_id: int, table_id: int) -> tuple[OpenStatisticRead, OpenTableRead]:
        """One released table of a published statistic (404 for any other)."""
        statistic = self.get(session, statistic_id)
        for table in statistic.tables:
            if table.id == table_id:
                return statistic, table
        raise NotFound(f"No released table {table_id} in open statistic {statistic_id}",
                       zh=f"公开统计 {statistic_id} 中没有已发布的统计表 {table_id}")

    def _read(self, session: Session, statistic: OpenStatistic, public: bool) -> OpenStatisticRead:
        rows = session.exec(select(OpenStatisticTable, QueryRun).join(
            QueryRun, col(QueryRun.id) == col(OpenStatisticTable.query_run_id)).where(
            OpenStatisticTable.statistic_id == statistic.id).order_by(col(OpenStatisticTable.position))).all()
        tables = [_table(statistic.id or 0, t, run) for t, run in rows if not public or run.status == "succeeded"]
        unit = next(((run.job or {}).get("privacy_unit") for _, run in rows), None) or {"column": None,
                                                                                        "max_contributions": 1}
        return OpenStatisticRead(
            id=statistic.id or 0, listing_id=statistic.listing_id,
            listing_title=get_listing(session, statistic.listing_id).title, title=statistic.title,
            description=statistic.description, status=_status([run.status for _, run in rows]),
            epsilon_total=statistic.epsilon_total, privacy_unit=PrivacyUnit.model_validate(unit),
            created_at=statistic.created_at, tables=tables)

    def csv(self, session: Session, statistic_id: int, table_id: int) -> bytes:
        """A released table as CSV: `# key,value` facts and the signed receipt first, then values with their ±."""
        statistic, table = self.table(session, statistic_id, table_id)
        assert table.receipt is not None
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(["# Shuyu 数域: open statistics, differentially private / 公开统计（差分隐私）"])
        for key, value in _facts(statistic, table):
            writer.writerow([f"# {key}", "" if value is None else value])
        header, values = table_with_plus_minus(table)
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in row] for row in values])
        return buffer.getvalue().encode("utf-8-sig")


def _released() -> Any:
    """Open statistics with at least one released table: the only ones the public sees."""
    released = (select(OpenStatisticTable.statistic_id).join(
        QueryRun, col(QueryRun.id) == col(OpenStatisticTable.query_run_id)).where(QueryRun.status == "succeeded"))
    return select(OpenStatistic).where(col(OpenStatistic.id).in_(released))


def _table(statistic_id: int, table: OpenStatisticTable, run: QueryRun) -> OpenTableRead:
    read = OpenTableRead(id=table.id or 0, position=table.position, title=table.title, sql=run.sql, status=run.status,
                         epsilon=run.epsilon_charged)
    if run.status != "succeeded" or run.result is None or run.receipt is None:
        return read
    result = run.result
    return read.model_copy(update={
        "columns": result["columns"], "rows": result["rows"], "accuracy_note": result.get("accuracy_note"),
        "accuracy": {k: Accuracy(plus_minus=v) for k, v in result["plus_minus"].items()},
        "receipt": Receipt.model_validate(run.receipt),
        "csv_url": f"/api/v1/open-statistics/{statistic_id}/tables/{table.id}/csv"})


def _status(statuses: list[str]) -> str:
    if any(s in jobs.LIVE for s in statuses):
        return "running"
    released = sum(s == "succeeded" for s in statuses)
    return "published" if statuses and released == len(statuses) else "partial" if released else "failed"


def _facts(statistic: OpenStatisticRead, table: OpenTableRead) -> list[tuple[str, Any]]:
    assert table.receipt is not None
    receipt = table.receipt.model_dump()
    en, zh = unit_words(statistic.privacy_unit.model_dump())
    return [
        ("open_statistic", statistic.id), ("title", statistic.title), ("table", table.title),
        ("listing_id", statistic.listing_id), ("listing", statistic.listing_title), ("sql", table.sql),
        ("privacy_unit", f"{en} / {zh}"), ("epsilon", table.epsilon),
        ("plus_minus", "± at 95% confidence (alpha 0.05) / 95% 置信水平下的误差范围"),
        ("accuracy_note", table.accuracy_note or ""),
        *((f"receipt.{key}", value) for key, value in receipt.items()),
        ("receipt_json", canonical(receipt).decode()),
        ("verify", "shuyu receipts verify, or shuyu_client.verify_receipt, with GET /api/v1/receipts/public-key"),
    ]


open_statistics = OpenStatisticsService()
