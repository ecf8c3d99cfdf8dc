"""The sandbox's front half, in the API process: check, price, charge, dispatch, sign, store.

Order matters. The ε is reserved, with the query's job, in its own committed transaction *before* any
noisy value exists; a sandbox node then claims the job, releases, and stores the signed result *before*
anyone is shown it (sandbox.jobs keeps every job ending exactly once, whatever crashes). A query that
fails before release ends by `settle_failure`, the one home of what a failure costs. The API process
compiles plans (public information only) but never opens the data: that happens in `sandbox.engine`,
inside a sandbox process that holds the private key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from core.audit import Actor, record
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
from sandbox import jobs
from sandbox import sql as sql_parser
from sandbox.errors import (
    EpsilonNotAllowed,
    QueryFailed,
    QueryInProgress,
    QueryRefused,
    QueryRunning,
    QueryStillRunning,
)
from sandbox.models import QueryRun
from sandbox.plan import Compiled, compile_query
from sandbox.schemas import (
    Accuracy,
    PublicKey,
    QueryCreate,
    QueryPage,
    QueryPreview,
    QueryResult,
    QueryStatus,
    QuerySummary,
    Receipt,
)
from sandbox.spec import ColumnInfo, Policy, QuerySpec, TableInfo


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

    def job(self, who: Principal) -> dict[str, Any]:
        """Everything a sandbox node on another machine needs to run, charge back and sign this query."""
        return {"payload": self.payload(), "actor": [who.user_id, who.role.value, who.organization_id],
                "epsilon_charged": self.compiled.epsilon_cost, "delta_charged": self.compiled.delta_cost,
                "dataset_sha256": self.target.dataset_sha256, "accuracy_note": self.compiled.accuracy_note}


@dataclass(frozen=True)
class Submitted:
    run_id: int
    result: QueryResult | None  # the stored answer, when the same query was already released


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
            # The construct and its position are SQL either way; the Chinese sentence frames it.
            zh = f"查询不被允许（只接受单条聚合查询，不返回原始数据）：{exc.detail}"
            raise QueryRefused(exc.detail, zh=zh) from None
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
        """Run a query and wait for its stored answer (the console, and the API's synchronous default).

        The caller's session is released before the wait: it must hold no pending writes."""
        submitted = self.submit(session, who, body)
        if submitted.result is not None:
            return submitted.result
        status = jobs.wait(submitted.run_id, sync_limit())
        result = self.outcome(who, submitted.run_id, status)
        if result is None:
            raise QueryStillRunning("The query is still running; its result will be on the query's page",
                                    zh="查询仍在运行，结果将显示在该查询页面", query_id=submitted.run_id)
        return result

    def submit(self, session: Session, who: Principal, body: QueryCreate) -> Submitted:
        """Reserve ε and queue the query (or find its stored answer); returns without waiting for the sandbox."""
        prepared = self._prepare(session, who, body)
        license_id = prepared.licence.id or 0
        # Keyed by the data's content, not its version: re-uploading identical data must not reopen re-asking.
        fingerprint = _fingerprint(prepared.spec.normalized_sql, prepared.epsilon, prepared.target.dataset_sha256)
        stored = self._stored(session, who.organization_id, fingerprint)
        session.close()  # nothing below may hold the request's connection: a query can wait minutes
        if stored is not None:
            return Submitted(stored.id or 0, self._result(stored, license_id, charged=0.0, cached=True))
        dispatch = jobs.dispatcher()
        dispatch.admit()
        run_id = self._reserve(who, prepared, body, fingerprint, dispatch)
        dispatch.submit(run_id)
        return Submitted(run_id, None)

    def outcome(self, who: Principal, run_id: int, status: str | None) -> QueryResult | None:
        """The stored answer of an ended job, its failure raised, or None while it is still live."""
        if status is None:
            return None
        with unit_of_work() as uow:
            run = uow.get(QueryRun, run_id)
        if run is None or run.organization_id != who.organization_id:
            raise NotFound(f"No query {run_id} of yours")
        if run.status == "succeeded":
            return self._result(run, run.license_id, charged=run.epsilon_charged, cached=False)
        kind = str((run.job or {}).get("failure", "error"))
        raise QueryFailed(_failure_sentence(kind, run.error or ""), zh=_FAILURE_ZH.get(kind, _FAILURE_ZH["error"]),
                          query_id=run_id, query_status=run.status)

    def status(self, session: Session, who: Principal, query_id: int) -> QueryResult | QueryStatus:
        """A query of yours: its result once released, else where its job stands."""
        run = session.get(QueryRun, query_id)
        if run is None or run.organization_id != who.organization_id:
            raise NotFound(f"No query {query_id} of yours")
        if run.status == "succeeded":
            return self._result(run, run.license_id, charged=run.epsilon_charged, cached=False)
        return _status(run)

    def cancel(self, session: Session, who: Principal, query_id: int) -> QueryStatus:
        """Cancel a query that has not started: its ε comes back. Once a sandbox has started it, it runs out."""
        run = session.get(QueryRun, query_id)
        if run is None or run.organization_id != who.organization_id:
            raise NotFound(f"No query {query_id} of yours")
        if run.status == "queued" and settle_failure(query_id, run.attempts, "cancelled", "cancelled before it ran",
                                                     expect_status="queued"):
            session.refresh(run)
            return _status(run)
        if run.status in jobs.ENDED:
            return _status(run)
        raise QueryRunning("The sandbox has started this query: it cannot be taken back, and its ε is spent by "
                           "the privacy rule", zh="沙箱已开始计算该查询，无法撤回，其 ε 按隐私规则计入",
                           query_id=query_id)

    def _stored(self, session: Session, organization_id: int, fingerprint: str) -> QueryRun | None:
        query = select(QueryRun).where(QueryRun.organization_id == organization_id, QueryRun.fingerprint == fingerprint)
        run = session.exec(query).first()
        if run is not None and run.status in jobs.LIVE and jobs.sweep():  # its node may have died: end it first
            run = session.exec(query.execution_options(populate_existing=True)).first()
        if run is not None and run.status in jobs.LIVE:
            raise QueryInProgress("The same query is running right now; ask again in a moment for its stored answer",
                                  zh="相同的查询正在运行，请稍后再试以获取其保存的结果", query_id=run.id)
        return run if run is not None and run.status == "succeeded" else None

    def _reserve(self, who: Principal, prepared: Prepared, body: QueryCreate, fingerprint: str,
                 dispatch: jobs.Dispatcher) -> int:
        """Charge ε and queue the job in one transaction: a job exists exactly when its ε is reserved."""
        licence, target, spec, compiled = prepared.licence, prepared.target, prepared.spec, prepared.compiled
        try:
            with unit_of_work() as uow:
                self._clear_refunded(uow, who.organization_id, fingerprint)
                license_service.reserve(uow, licence.id or 0, compiled.epsilon_cost, compiled.delta_cost)
                run = QueryRun(license_id=licence.id or 0, organization_id=who.organization_id, user_id=who.user_id,
                               dataset_version_id=target.dataset_version_id, sql=body.sql,
                               normalized_sql=spec.normalized_sql, fingerprint=fingerprint,
                               epsilon_requested=prepared.epsilon, epsilon_charged=compiled.epsilon_cost,
                               job=prepared.job(who), **jobs.queued_fields(get_settings(), dispatch.owner))
                uow.add(run)
                uow.flush()
                dispatch.enqueue(uow, run.id or 0)
                record(uow, who.actor, "query.charged", "query", run.id,
                       {"license_id": licence.id, "epsilon": compiled.epsilon_cost, "delta": compiled.delta_cost,
                        "sql": spec.normalized_sql})
                return run.id or 0
        except IntegrityError:
            raise QueryInProgress("The same query is running right now; ask again in a moment",
                                  zh="相同的查询正在运行，请稍后再试") from None

    def _clear_refunded(self, uow: Session, organization_id: int, fingerprint: str) -> None:
        """A failed attempt released nothing, so the same query may be asked again: retire its key."""
        old = uow.exec(select(QueryRun).where(QueryRun.organization_id == organization_id,
                                              QueryRun.fingerprint == fingerprint,
                                              col(QueryRun.status).in_(("refunded", "failed")))).first()
        if old is not None:
            old.fingerprint = f"refunded-{old.id}"
            uow.add(old)
            uow.flush()

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
        """A released result of yours (pages and receipts)."""
        run = session.get(QueryRun, query_id)
        if run is None or run.organization_id != who.organization_id or run.status != "succeeded":
            raise NotFound(f"No query {query_id} of yours")
        return self._result(run, run.license_id, charged=run.epsilon_charged, cached=False)

    def history(self, session: Session, who: Principal, license_id: int | None, limit: int,
                offset: int) -> QueryPage:
        """The caller's enterprise's queries, newest first (refunded attempts included, with why)."""
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
    "cancelled": "查询在运行前已取消，未扣除任何预算",
}


def _failure_sentence(kind: str, message: str) -> str:
    if kind == "timeout":
        return f"The query took too long ({message}) and was stopped; nothing was charged. Narrow it and try again"
    if kind == "died":
        return "The sandbox worker stopped while running the query; nothing was charged. Try again"
    if kind == "cancelled":
        return "The query was cancelled before it ran; nothing was charged"
    return "The sandbox could not compute this query; nothing was charged"


def _status(run: QueryRun) -> QueryStatus:
    return QueryStatus(id=run.id or 0, license_id=run.license_id, sql=run.sql, status=run.status,
                       epsilon_charged=run.epsilon_charged, created_at=run.created_at, started_at=run.started_at,
                       finished_at=run.finished_at, attempts=run.attempts, error=_failure_note(run))


def sync_limit() -> float:
    """How long a synchronous request waits: the query's own time limit plus a queue allowance."""
    settings = get_settings()
    return settings.query_timeout_seconds + settings.sandbox_lease_seconds


def _actor(run: QueryRun) -> Actor:
    user_id, role, organization_id = (run.job or {}).get("actor") or (run.user_id, "enterprise", run.organization_id)
    return Actor(int(user_id), str(role), int(organization_id))


def _end(uow: Session, run_id: int, attempt: int, expect_status: str, **values: Any) -> QueryRun | None:
    """End one attempt of a job, if it is still that attempt's to end (the exactly-once step)."""
    done = uow.execute(update(QueryRun).where(col(QueryRun.id) == run_id, col(QueryRun.status) == expect_status,
                                              col(QueryRun.attempts) == attempt)
                       .values(finished_at=utcnow(), lease_until=None, **values))
    return uow.get(QueryRun, run_id) if done.rowcount == 1 else None  # type: ignore[attr-defined]


def settle_failure(run_id: int, attempt: int, kind: str, message: str, *, expect_status: str = "running") -> bool:
    """End a job that released nothing, and decide what it costs: today every such failure is refunded.

    The only place that rule lives (the privacy issue owns it). False when the job was not that attempt's
    to end any more (another node ended it first)."""
    with unit_of_work() as uow:
        charged = uow.exec(select(QueryRun.epsilon_charged).where(QueryRun.id == run_id)).first()
        run = _end(uow, run_id, attempt, expect_status, status="refunded", error=message[:2000], epsilon_charged=0.0)
        if run is None:
            return False
        job = dict(run.job or {})
        epsilon = float(job.get("epsilon_charged", charged or 0.0))
        license_service.refund(uow, run.license_id, epsilon, float(job.get("delta_charged", 0.0)))
        run.job = {**job, "failure": kind}
        uow.add(run)
        record(uow, _actor(run), "query.refunded", "query", run_id,
               {"license_id": run.license_id, "epsilon": epsilon, "failure": kind})
    return True


def store_release(run_id: int, attempt: int, released: dict[str, Any]) -> bool:
    """Sign and store a released result, once: False if this attempt no longer owns the job."""
    with unit_of_work() as uow:
        run = _end(uow, run_id, attempt, "running", status="succeeded")
        if run is None:
            return False
        job = run.job or {}
        result = {"columns": released["columns"], "rows": released["rows"]}
        run.result = {**result, "plus_minus": released["plus_minus"], "accuracy_note": job.get("accuracy_note")}
        run.receipt = sign(signing_key(get_settings()), {
            "query_id": run_id, "query_sha256": hashlib.sha256(run.normalized_sql.encode()).hexdigest(),
            "dataset_sha256": job.get("dataset_sha256"), "result_sha256": sha256_hex(result),
            "epsilon": run.epsilon_charged, "issued_at": utcnow().isoformat(timespec="seconds"),
        })
        uow.add(run)
        record(uow, _actor(run), "query.released", "query", run_id,
               {"result_sha256": run.receipt["result_sha256"], "rows": len(result["rows"])})
    return True


def public_key() -> PublicKey:
    key = signing_key(get_settings())
    return PublicKey(key_id=key_id(key), public_key_pem=public_pem(key))


queries = QueryService()
