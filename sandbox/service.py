"""The sandbox's front half, in the API process: check, price, charge, dispatch, sign, store.

Order matters. The ε is reserved in its own committed transaction *before* any noisy value exists;
the worker then releases; the result is committed *before* it is returned. A query that fails before
release gets its ε back. The API process compiles plans (public information only) but never opens
the data: that happens in `sandbox.engine`, inside a worker process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from core.audit import record
from core.auth import Principal
from core.config import get_settings
from core.db import unit_of_work
from core.errors import NotFound
from core.models import utcnow
from core.receipts import key_id, public_pem, sha256_hex, sign, signing_key
from licensing.models import License
from licensing.service import license_service
from market.service import DatasetTarget
from market.service import listings as listing_service
from sandbox import refusals_zh
from sandbox import sql as sql_parser
from sandbox.errors import EpsilonNotAllowed, QueryFailed, QueryInProgress, QueryRefused
from sandbox.models import QueryRun
from sandbox.plan import Compiled, compile_query
from sandbox.schemas import (
    Accuracy,
    PublicKey,
    QueryCreate,
    QueryPage,
    QueryPreview,
    QueryResult,
    QuerySummary,
    Receipt,
)
from sandbox.spec import ColumnInfo, Policy, QuerySpec, TableInfo
from sandbox.worker import WorkerError, get_pool


def table_info(target: DatasetTarget) -> TableInfo:
    """The public description of a dataset that the compiler needs, from the data dictionary."""
    described = {c["name"]: c for c in target.dictionary.get("columns", [])}
    columns = []
    for column in target.columns:
        entry = described.get(column["name"], {"role": "excluded"})
        bounds, keys = entry.get("bounds"), entry.get("keys")
        columns.append(ColumnInfo(
            name=column["name"], role=entry["role"], dtype=column["dtype"],
            bounds=(float(bounds[0]), float(bounds[1])) if bounds else None,
            keys=tuple(keys) if keys else None,
        ))
    unit = target.dictionary.get("privacy_unit") or {}
    return TableInfo(name=target.dataset_name, columns=tuple(columns), privacy_unit=unit.get("column"),
                     max_contributions=int(unit.get("max_contributions") or 1), max_rows=target.row_bound)


def policy_of(target: DatasetTarget) -> Policy:
    """Grouping by keys that are not public needs a δ, and is never allowed on important data."""
    delta = float(target.dp_policy.get("unknown_keys_delta") or 0.0)
    unknown_keys = target.grade == "general" and delta > 0
    return Policy(min_group_size=int(target.dp_policy.get("min_group_size") or 0),
                  allow_unknown_keys=unknown_keys, delta=delta if unknown_keys else 0.0)


@dataclass(frozen=True)
class Prepared:
    """A checked query, priced: everything needed to charge it and send it to a worker."""

    licence: License
    target: DatasetTarget
    table: TableInfo
    policy: Policy
    spec: QuerySpec
    epsilon: float
    compiled: Compiled

    def payload(self) -> dict[str, Any]:
        return {"spec": self.spec.to_dict(), "table": self.table.to_dict(), "policy": self.policy.to_dict(),
                "epsilon": self.epsilon, "epsilon_charged": self.compiled.epsilon_cost,
                "storage_key": self.target.storage_key, "sealed_key": self.target.sealed_key}


class QueryService:
    def _prepare(self, session: Session, who: Principal, body: QueryCreate) -> Prepared:
        licence = license_service.usable(session, who, body.license_id)
        target = listing_service.query_target(session, licence.listing_id)
        table, policy = table_info(target), policy_of(target)
        epsilon = self._epsilon(target, body.epsilon)
        try:  # both the parser and the compiler refuse what they cannot make private
            spec = sql_parser.parse(body.sql, table, policy)
            compiled = compile_query(spec, table, policy, epsilon)
        except sql_parser.QueryNotAllowed as exc:
            self._audit_refusal(who, licence, body, exc.detail)
            raise QueryRefused(exc.detail, zh=refusals_zh.translate(exc.reason, exc.line, exc.col)) from None
        return Prepared(licence, target, table, policy, spec, epsilon, compiled)

    def _epsilon(self, target: DatasetTarget, asked: float | None) -> float:
        cap = float(target.dp_policy.get("max_epsilon_per_query") or 1.0)
        epsilon = asked if asked is not None else float(target.dp_policy.get("default_epsilon") or cap / 2)
        if epsilon > cap + 1e-12:
            raise EpsilonNotAllowed(f"This listing allows at most ε={cap:g} per query; you asked for ε={epsilon:g}",
                                    zh=f"该数据产品每次查询的 ε 上限为 {cap:g}，您申请的是 ε={epsilon:g}")
        return epsilon

    def preview(self, session: Session, who: Principal, body: QueryCreate) -> QueryPreview:
        """Cost and expected accuracy of a query, without running or charging anything."""
        prepared = self._prepare(session, who, body)
        licence, compiled = prepared.licence, prepared.compiled
        left = licence.epsilon_budget - licence.epsilon_spent
        return QueryPreview(epsilon_cost=compiled.epsilon_cost, accuracy=_accuracy(compiled.accuracy),
                            epsilon_remaining_after=max(0.0, left - compiled.epsilon_cost),
                            accuracy_note=compiled.accuracy_note)

    def run(self, session: Session, who: Principal, body: QueryCreate) -> QueryResult:
        """Run a query: reserve ε first, release in a worker, store the signed result, then return it."""
        prepared = self._prepare(session, who, body)
        license_id = prepared.licence.id or 0
        # Keyed by the data's content, not its version: re-uploading identical data must not reopen re-asking.
        fingerprint = _fingerprint(prepared.spec.normalized_sql, prepared.epsilon, prepared.target.dataset_sha256)
        stored = self._stored(session, who.organization_id, fingerprint)
        if stored is not None:
            return self._result(stored, license_id, charged=0.0, cached=True)
        run_id = self._reserve(who, prepared, body, fingerprint)
        try:
            released = get_pool(get_settings()).call("run", prepared.payload())
        except WorkerError as exc:
            self._refund(who, license_id, run_id, prepared.compiled, exc)
            raise QueryFailed(_failure_sentence(exc), zh=_FAILURE_ZH[exc.kind]) from None
        released["accuracy_note"] = prepared.compiled.accuracy_note
        run = self._store(who, run_id, prepared.target, released)
        return self._result(run, license_id, charged=run.epsilon_charged, cached=False)

    def _stored(self, session: Session, organization_id: int, fingerprint: str) -> QueryRun | None:
        run = session.exec(select(QueryRun).where(QueryRun.organization_id == organization_id,
                                                  QueryRun.fingerprint == fingerprint)).first()
        if run is not None and run.status == "reserved":
            raise QueryInProgress("The same query is running right now; ask again in a moment for its stored answer",
                                  zh="相同的查询正在运行，请稍后再试以获取其保存的结果")
        return run if run is not None and run.status == "succeeded" else None

    def _reserve(self, who: Principal, prepared: Prepared, body: QueryCreate, fingerprint: str) -> int:
        licence, target, spec, compiled = prepared.licence, prepared.target, prepared.spec, prepared.compiled
        try:
            with unit_of_work() as uow:
                self._clear_refunded(uow, who.organization_id, fingerprint)
                license_service.reserve(uow, licence.id or 0, compiled.epsilon_cost, compiled.delta_cost)
                run = QueryRun(license_id=licence.id or 0, organization_id=who.organization_id, user_id=who.user_id,
                               dataset_version_id=target.dataset_version_id, sql=body.sql,
                               normalized_sql=spec.normalized_sql, fingerprint=fingerprint,
                               epsilon_requested=prepared.epsilon, epsilon_charged=compiled.epsilon_cost)
                uow.add(run)
                uow.flush()
                record(uow, who.actor, "query.charged", "query", run.id,
                       {"license_id": licence.id, "epsilon": compiled.epsilon_cost, "delta": compiled.delta_cost,
                        "sql": spec.normalized_sql})
                return run.id or 0
        except IntegrityError:
            raise QueryInProgress("The same query is running right now; ask again in a moment",
                                  zh="相同的查询正在运行，请稍后再试") from None

    def _clear_refunded(self, uow: Session, organization_id: int, fingerprint: str) -> None:
        """A refunded attempt released nothing, so the same query may be asked again: retire its key."""
        old = uow.exec(select(QueryRun).where(QueryRun.organization_id == organization_id,
                                              QueryRun.fingerprint == fingerprint,
                                              QueryRun.status == "refunded")).first()
        if old is not None:
            old.fingerprint = f"refunded-{old.id}"
            uow.add(old)
            uow.flush()

    def _refund(self, who: Principal, license_id: int, run_id: int, compiled: Compiled, exc: WorkerError) -> None:
        epsilon = compiled.epsilon_cost
        with unit_of_work() as uow:
            license_service.refund(uow, license_id, epsilon, compiled.delta_cost)
            run = uow.get(QueryRun, run_id)
            assert run is not None
            run.status, run.error, run.finished_at, run.epsilon_charged = "refunded", str(exc)[:2000], utcnow(), 0.0
            uow.add(run)
            record(uow, who.actor, "query.refunded", "query", run_id,
                   {"license_id": license_id, "epsilon": epsilon, "failure": exc.kind})

    def _store(self, who: Principal, run_id: int, target: DatasetTarget, released: dict[str, Any]) -> QueryRun:
        with unit_of_work() as uow:
            run = uow.get(QueryRun, run_id)
            assert run is not None
            result = {"columns": released["columns"], "rows": released["rows"]}
            run.result = {**result, "plus_minus": released["plus_minus"], "accuracy_note": released["accuracy_note"]}
            run.receipt = sign(signing_key(get_settings()), {
                "query_id": run_id, "query_sha256": hashlib.sha256(run.normalized_sql.encode()).hexdigest(),
                "dataset_sha256": target.dataset_sha256, "result_sha256": sha256_hex(result),
                "epsilon": run.epsilon_charged, "issued_at": utcnow().isoformat(timespec="seconds"),
            })
            run.status, run.finished_at = "succeeded", utcnow()
            uow.add(run)
            record(uow, who.actor, "query.released", "query", run_id,
                   {"result_sha256": run.receipt["result_sha256"], "rows": len(result["rows"])})
            return run

    def _result(self, run: QueryRun, license_id: int, *, charged: float, cached: bool) -> QueryResult:
        with unit_of_work() as uow:
            budget, spent = license_service.budget(uow, license_id)
        assert run.result is not None and run.receipt is not None
        alphas = {name: Accuracy(plus_minus=value) for name, value in run.result["plus_minus"].items()}
        return QueryResult(id=run.id or 0, license_id=run.license_id, sql=run.sql, columns=run.result["columns"],
                           rows=run.result["rows"], accuracy=alphas, epsilon_charged=charged,
                           epsilon_spent_on_query=run.epsilon_charged, epsilon_remaining=max(0.0, budget - spent),
                           accuracy_note=run.result.get("accuracy_note"),
                           cached=cached, receipt=Receipt.model_validate(run.receipt))

    def get(self, session: Session, who: Principal, query_id: int) -> QueryResult:
        run = session.get(QueryRun, query_id)
        if run is None or run.organization_id != who.organization_id or run.status != "succeeded":
            raise NotFound(f"No query {query_id} of yours")
        return self._result(run, run.license_id, charged=run.epsilon_charged, cached=False)

    def history(self, session: Session, who: Principal, license_id: int | None, limit: int,
                offset: int) -> QueryPage:
        """The caller's enterprise's queries, newest first (refunded attempts included, with why)."""
        query = select(QueryRun).where(QueryRun.organization_id == who.organization_id,
                                       col(QueryRun.status).in_(("succeeded", "refunded")))
        if license_id is not None:
            query = query.where(QueryRun.license_id == license_id)
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        runs = session.exec(query.order_by(col(QueryRun.id).desc()).limit(limit).offset(offset)).all()
        items = [QuerySummary(id=r.id or 0, license_id=r.license_id, sql=r.sql, status=r.status,
                              epsilon_charged=r.epsilon_charged, created_at=r.created_at,
                              error=_failure_note(r)) for r in runs]
        return QueryPage(items=items, total=int(total))

    def _audit_refusal(self, who: Principal, licence: License, body: QueryCreate, reason: str) -> None:
        with unit_of_work() as uow:
            record(uow, who.actor, "query.refused", "license", licence.id, {"reason": reason, "sql": body.sql[:2000]})


def _accuracy(values: Mapping[str, float | None]) -> dict[str, Accuracy]:
    return {name: Accuracy(plus_minus=value) for name, value in values.items()}


def _fingerprint(normalized_sql: str, epsilon: float, dataset_sha256: str) -> str:
    return hashlib.sha256(f"{normalized_sql}\x00{epsilon!r}\x00{dataset_sha256}".encode()).hexdigest()


def _failure_note(run: QueryRun) -> str | None:
    if run.status != "refunded":
        return None
    return "The sandbox failed before releasing anything; the ε was refunded"


_FAILURE_ZH = {
    "timeout": "查询运行超时，已被终止，未扣除任何预算。请缩小查询范围后重试",
    "died": "沙箱进程在运行查询时意外退出，未扣除任何预算。请重试",
    "error": "沙箱无法计算该查询，未扣除任何预算",
}


def _failure_sentence(exc: WorkerError) -> str:
    if exc.kind == "timeout":
        return f"The query took too long ({exc}) and was stopped; nothing was charged. Narrow it and try again"
    if exc.kind == "died":
        return "The sandbox worker stopped while running the query; nothing was charged. Try again"
    return "The sandbox could not compute this query; nothing was charged"


def public_key() -> PublicKey:
    key = signing_key(get_settings())
    return PublicKey(key_id=key_id(key), public_key_pem=public_pem(key))


queries = QueryService()
