"""The sandbox's front half, in the API process: check, price, reuse or charge, dispatch, sign, store.

Order matters. A query whose DP measurement this enterprise already paid for is answered from the
stored release at no cost (`sandbox.cache`). Otherwise the ε is reserved in its own committed
transaction *before* any noisy value exists; a worker measures; the result is committed *before* it
is returned. A failure before the plan touched the data gets its ε back; a later one keeps it
charged (status `failed`), because whether it failed may depend on the data (`sandbox.worker`).
The API process compiles plans and post-processes releases (public information and DP output only)
but never opens the data: that happens in `sandbox.engine`, inside a worker process.
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
from core.receipts import dataset_version, key_id, public_pem, sha256_hex, sign, signing_key
from licensing.models import License
from licensing.service import license_service
from market.service import DatasetTarget
from market.service import listings as listing_service
from market.service.versions import versions as version_service
from sandbox import refusals_zh
from sandbox import sql as sql_parser
from sandbox.cache import answer_key, measurement_key
from sandbox.errors import EpsilonNotAllowed, QueryFailed, QueryFailedCharged, QueryInProgress, QueryRefused
from sandbox.models import QueryRun
from sandbox.plan import Compiled, answer, compile_query
from sandbox.schemas import (
    Accuracy,
    LegacyReceipt,
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
    """Grouping by keys that are not public needs a δ (at most 1/(10·n)), and is never allowed on important data."""
    delta = target.dp_policy.delta_per_query(target.grade, target.row_bound)
    return Policy(min_group_size=target.dp_policy.min_group_size, allow_unknown_keys=delta > 0, delta=delta)


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
    sql: str

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
        return Prepared(licence, target, table, policy, spec, epsilon, compiled, body.sql)

    def _epsilon(self, target: DatasetTarget, asked: float | None) -> float:
        policy = target.dp_policy
        epsilon, cap = policy.epsilon_for(asked), policy.max_epsilon_per_query
        if not policy.allows_epsilon(epsilon):
            raise EpsilonNotAllowed(f"This listing allows at most ε={cap:g} per query; you asked for ε={epsilon:g}",
                                    zh=f"该数据产品每次查询的 ε 上限为 {cap:g}，您申请的是 ε={epsilon:g}")
        return epsilon

    def preview(self, session: Session, who: Principal, body: QueryCreate) -> QueryPreview:
        """Cost and expected accuracy of a query, without running or charging anything."""
        prepared = self._prepare(session, who, body)
        licence, compiled = prepared.licence, prepared.compiled
        paid = self._paid_for(session, who.organization_id, _cache_keys(prepared))
        cost = 0.0 if paid else compiled.epsilon_cost
        left = licence.epsilon_remaining
        return QueryPreview(epsilon_cost=cost, accuracy=_accuracy(compiled.accuracy),
                            epsilon_remaining_after=max(0.0, left - cost),
                            accuracy_note=compiled.accuracy_note, cached=paid)

    def run(self, session: Session, who: Principal, body: QueryCreate) -> QueryResult:
        """Run a query: answer it from a stored release if one fits, else reserve ε first, measure in a
        worker, store the signed result, then return it."""
        prepared = self._prepare(session, who, body)
        license_id = prepared.licence.id or 0
        keys = _cache_keys(prepared)
        reused = self._reuse(session, who, prepared, keys)
        if reused is not None:
            return self._result(reused, license_id, charged=0.0, cached=True)
        run_id = self._reserve(who, prepared, body, keys.measurement)
        measured = self._measure(who, prepared, run_id)
        run = self._store(who, run_id, prepared, keys, measured)
        return self._result(run, license_id, charged=run.epsilon_charged, cached=False)

    # answers from stored releases (see sandbox.cache)

    def _reuse(self, session: Session, who: Principal, prepared: Prepared, keys: CacheKeys) -> QueryRun | None:
        """A stored answer to this query, or a new one post-processed from a stored measurement, at no cost."""
        same = self._stored(session, who.organization_id, keys.answer)
        if same is not None:
            return same
        source = self._stored(session, who.organization_id, keys.measurement)
        if source is None:
            return None
        assert source.result is not None
        if source.result.get("answer_key") == keys.answer:
            return source
        return self._derive(session, who, prepared, source, keys)

    def _paid_for(self, session: Session, organization_id: int, keys: CacheKeys) -> bool:
        """Whether a stored release already answers this query (so running it would cost nothing)."""
        return session.exec(select(QueryRun.id).where(
            QueryRun.organization_id == organization_id, QueryRun.status == "succeeded",
            col(QueryRun.fingerprint).in_((keys.measurement, keys.answer)))).first() is not None

    def _stored(self, session: Session, organization_id: int, fingerprint: str) -> QueryRun | None:
        run = session.exec(select(QueryRun).where(QueryRun.organization_id == organization_id,
                                                  QueryRun.fingerprint == fingerprint)).first()
        if run is not None and run.status == "reserved":
            raise QueryInProgress("The same query is running right now; ask again in a moment for its stored answer",
                                  zh="相同的查询正在运行，请稍后再试以获取其保存的结果")
        return run if run is not None and run.status == "succeeded" else None

    def _derive(self, session: Session, who: Principal, prepared: Prepared, source: QueryRun,
                keys: CacheKeys) -> QueryRun:
        """Post-process `source`'s stored measurement into this query's answer and store it, charging nothing."""
        assert source.result is not None and source.id is not None
        columns, rows, plus_minus = answer(prepared.compiled, source.result["release"])
        try:
            with unit_of_work() as uow:
                run = QueryRun(license_id=prepared.licence.id or 0, organization_id=who.organization_id,
                               user_id=who.user_id, dataset_version_id=prepared.target.dataset_version_id,
                               sql=prepared.sql, normalized_sql=prepared.spec.normalized_sql,
                               fingerprint=keys.answer, epsilon_requested=prepared.epsilon, epsilon_charged=0.0,
                               status="succeeded", finished_at=utcnow())
                uow.add(run)
                uow.flush()
                result: dict[str, Any] = {"columns": columns, "rows": rows}
                run.result = {**result, "plus_minus": plus_minus, "accuracy_note": prepared.compiled.accuracy_note,
                              "source_query_id": source.id}
                run.receipt = _receipt(run, prepared, result, epsilon=source.epsilon_charged, derived_from=source.id)
                uow.add(run)
                record(uow, who.actor, "query.reused", "query", run.id,
                       {"source_query_id": source.id, "sql": prepared.spec.normalized_sql})
                return run
        except IntegrityError:  # the same answer was stored by a concurrent request: that one it is
            again = self._stored(session, who.organization_id, keys.answer)
            if again is None:
                raise
            return again

    # a fresh, charged measurement

    def _reserve(self, who: Principal, prepared: Prepared, body: QueryCreate, fingerprint: str) -> int:
        licence, target, spec, compiled = prepared.licence, prepared.target, prepared.spec, prepared.compiled
        try:
            with unit_of_work() as uow:
                self._retire_unanswered(uow, who.organization_id, fingerprint)
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

    def _retire_unanswered(self, uow: Session, organization_id: int, fingerprint: str) -> None:
        """A refunded or failed attempt released nothing, so the query may be asked (and charged) again."""
        old = uow.exec(select(QueryRun).where(QueryRun.organization_id == organization_id,
                                              QueryRun.fingerprint == fingerprint,
                                              col(QueryRun.status).in_(("refunded", "failed")))).first()
        if old is not None:
            old.fingerprint = f"{old.status}-{old.id}"
            uow.add(old)
            uow.flush()

    def _measure(self, who: Principal, prepared: Prepared, run_id: int) -> dict[str, Any]:
        """The one step that touches data, in a worker; a failure is refunded only if it came before that."""
        try:
            return dict(get_pool(get_settings()).call("run", prepared.payload())["release"])
        except WorkerError as exc:
            if exc.touched_data:
                self._keep_charge(who, prepared, run_id, exc)
                raise QueryFailedCharged(_charged_sentence(exc, prepared.compiled.epsilon_cost),
                                         zh=_charged_zh(exc, prepared.compiled.epsilon_cost)) from None
            self._refund(who, prepared.licence.id or 0, run_id, prepared.compiled, exc)
            raise QueryFailed(_failure_sentence(exc), zh=_FAILURE_ZH[exc.kind]) from None

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

    def _keep_charge(self, who: Principal, prepared: Prepared, run_id: int, exc: WorkerError) -> None:
        """The plan had touched the data: the attempt is `failed`, its ε stays spent, nothing is released."""
        with unit_of_work() as uow:
            run = uow.get(QueryRun, run_id)
            assert run is not None
            run.status, run.error, run.finished_at = "failed", str(exc)[:2000], utcnow()
            uow.add(run)
            record(uow, who.actor, "query.failed", "query", run_id,
                   {"license_id": prepared.licence.id, "epsilon": prepared.compiled.epsilon_cost,
                    "delta": prepared.compiled.delta_cost, "failure": exc.kind, "charged": True})

    def _store(self, who: Principal, run_id: int, prepared: Prepared, keys: CacheKeys,
               measured: dict[str, Any]) -> QueryRun:
        columns, rows, plus_minus = answer(prepared.compiled, measured)
        with unit_of_work() as uow:
            run = uow.get(QueryRun, run_id)
            assert run is not None
            result: dict[str, Any] = {"columns": columns, "rows": rows}
            # The measurement is kept (never shown) so that post-processed variants are answered from it.
            run.result = {**result, "plus_minus": plus_minus, "accuracy_note": prepared.compiled.accuracy_note,
                          "release": measured, "answer_key": keys.answer}
            run.receipt = _receipt(run, prepared, result, epsilon=run.epsilon_charged, derived_from=None)
            run.status, run.finished_at = "succeeded", utcnow()
            uow.add(run)
            record(uow, who.actor, "query.released", "query", run_id,
                   {"result_sha256": run.receipt["result_sha256"], "rows": len(rows)})
            return run

    def _result(self, run: QueryRun, license_id: int, *, charged: float, cached: bool) -> QueryResult:
        with unit_of_work() as uow:
            budget, spent = license_service.budget(uow, license_id)
            ran_on = version_service.ref(uow, run.dataset_version_id)
        assert run.result is not None and run.receipt is not None
        alphas = {name: Accuracy(plus_minus=value) for name, value in run.result["plus_minus"].items()}
        return QueryResult(id=run.id or 0, license_id=run.license_id, sql=run.sql, columns=run.result["columns"],
                           rows=run.result["rows"], accuracy=alphas, epsilon_charged=charged,
                           epsilon_spent_on_query=run.epsilon_charged, epsilon_remaining=max(0.0, budget - spent),
                           accuracy_note=run.result.get("accuracy_note"),
                           cached=cached, receipt=_receipt_model(run.receipt), dataset=ran_on)

    def get(self, session: Session, who: Principal, query_id: int) -> QueryResult:
        run = session.get(QueryRun, query_id)
        if run is None or run.organization_id != who.organization_id or run.status != "succeeded":
            raise NotFound(f"No query {query_id} of yours")
        return self._result(run, run.license_id, charged=run.epsilon_charged, cached=False)

    def history(self, session: Session, who: Principal, license_id: int | None, limit: int,
                offset: int) -> QueryPage:
        """The caller's enterprise's queries, newest first (refunded and failed attempts included, with why)."""
        query = select(QueryRun).where(QueryRun.organization_id == who.organization_id,
                                       col(QueryRun.status).in_(("succeeded", "refunded", "failed")))
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


@dataclass(frozen=True)
class CacheKeys:
    measurement: str  # the DP measurement: one charge per enterprise
    answer: str  # one post-processing of it


def _cache_keys(prepared: Prepared) -> CacheKeys:
    target = prepared.target
    measurement = measurement_key(prepared.compiled, prepared.table, prepared.epsilon,
                                  content_digest=target.dataset_sha256, dictionary=target.dictionary,
                                  grade=target.grade, dp_policy=target.dp_policy.model_dump(mode="json"))
    return CacheKeys(measurement, answer_key(measurement, prepared.spec))


def _receipt(run: QueryRun, prepared: Prepared, result: dict[str, Any], *, epsilon: float,
             derived_from: int | None) -> dict[str, Any]:
    """Sign what was released. The dataset is named by an opaque HMAC, never by a hash of its data."""
    settings, table, target = get_settings(), prepared.table, prepared.target
    return sign(signing_key(settings), {
        "query_id": run.id, "query_sha256": hashlib.sha256(run.normalized_sql.encode()).hexdigest(),
        "dataset_version": dataset_version(settings, target.dataset_version_id, target.dataset_sha256),
        "privacy_unit": {"column": table.privacy_unit, "max_contributions": table.max_contributions},
        "result_sha256": sha256_hex(result), "epsilon": epsilon, "derived_from": derived_from,
        "issued_at": utcnow().isoformat(timespec="seconds"),
    })


def _receipt_model(stored: dict[str, Any]) -> Receipt | LegacyReceipt:
    """The stored receipt, field for field as signed (receipts from before v2 carry `dataset_sha256`)."""
    if "dataset_version" in stored:
        return Receipt.model_validate(stored)
    return LegacyReceipt.model_validate(stored)


def _failure_note(run: QueryRun) -> str | None:
    if run.status == "refunded":
        return "The sandbox failed before it touched the data; the ε was refunded"
    if run.status == "failed":
        return ("The query failed after it had started reading the data; its ε was charged and nothing was "
                "released")
    return None


_FAILURE_ZH = {
    "timeout": "查询在读取数据之前超时，已被终止，未扣除任何预算。请重试",
    "died": "沙箱进程在读取数据之前意外退出，未扣除任何预算。请重试",
    "memory": "沙箱在读取数据之前内存不足，未扣除任何预算",
    "error": "沙箱在读取数据之前无法准备该查询，未扣除任何预算",
}


def _failure_sentence(exc: WorkerError) -> str:
    if exc.kind == "timeout":
        return f"The query timed out ({exc}) before it touched the data and was stopped; nothing was charged"
    if exc.kind == "died":
        return "The sandbox worker stopped before the query touched the data; nothing was charged. Try again"
    return "The sandbox could not prepare this query before touching the data; nothing was charged"


_CHARGED_WHAT = {
    "timeout": ("ran past the sandbox's time limit", "超出了沙箱的时间限制"),
    "memory": ("needed more memory than the sandbox allows", "所需内存超出了沙箱的限制"),
    "died": ("stopped the sandbox worker", "导致沙箱进程意外退出"),
    "error": ("could not be computed", "无法完成计算"),
}


def _charged_sentence(exc: WorkerError, epsilon: float) -> str:
    what = _CHARGED_WHAT.get(exc.kind, _CHARGED_WHAT["error"])[0]
    return (f"The query {what} after it had started reading the data. Its ε ({epsilon:g}) was charged and "
            "nothing was released: whether a query fails once it touches the data can depend on the data, "
            "so a refund would leak it. Narrow the query (fewer groups, a smaller time range) and try again")


def _charged_zh(exc: WorkerError, epsilon: float) -> str:
    what = _CHARGED_WHAT.get(exc.kind, _CHARGED_WHAT["error"])[1]
    return (f"查询在开始读取数据之后{what}。本次查询的 ε（{epsilon:g}）已扣除，未发布任何结果："
            "读取数据之后的失败可能取决于数据本身，退还预算会泄露信息。请缩小查询范围（更少的分组、更短的时间段）后重试")


def public_key() -> PublicKey:
    key = signing_key(get_settings())
    return PublicKey(key_id=key_id(key), public_key_pem=public_pem(key))


queries = QueryService()
