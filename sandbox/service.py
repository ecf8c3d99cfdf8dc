"""The sandbox's front half: check, price, reuse or charge and queue; and the two ends of a job, stored or failed.

Order matters. A query whose DP measurement this enterprise already paid for is answered from the
stored release at no cost (`sandbox.cache`). Otherwise the ε is reserved, with the query's job, in its
own committed transaction *before* any noisy value exists; a sandbox node (this process's pool, or a
`shuyu worker` in queue mode) claims the job, measures, and stores the signed result with
`store_release` *before* anyone is shown it (sandbox.jobs keeps every job ending exactly once,
whatever crashes). A job that releases nothing ends by `settle_failure`, the one home of what a
failure costs: refunded if it failed before the plan touched the data, else `failed` with its ε kept,
because whether it failed may depend on the data (`sandbox.worker`). The API process compiles plans
and post-processes releases (public information and DP output only) but never opens the data: that
happens in `sandbox.engine`, inside a sandbox process that holds the private key.
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
from core.receipts import dataset_version, key_id, public_pem, sha256_hex, sign, signing_key
from licensing.models import License
from licensing.service import license_service, query_fees
from market.service import DatasetTarget
from market.service import listings as listing_service
from market.service.versions import versions as version_service
from sandbox import jobs, refusals_zh
from sandbox import sql as sql_parser
from sandbox.cache import answer_key, measurement_key
from sandbox.errors import (
    EpsilonNotAllowed,
    QueryFailed,
    QueryFailedCharged,
    QueryInProgress,
    QueryRefused,
    QueryRunning,
    QueryStillRunning,
    TemplateRequired,
)
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
    QueryStatus,
    QuerySummary,
    Receipt,
)
from sandbox.spec import ColumnInfo, Policy, QuerySpec, TableInfo
from sandbox.templates import TemplateUse, templates


def table_info(target: DatasetTarget) -> TableInfo:
    """The public description of a dataset that the compiler needs, from the data dictionary."""
    described = {c["name"]: c for c in target.dictionary.get("columns", [])}
    columns = []
    for column in target.columns:
        entry = described.get(column["name"], {"role": "excluded"})
        bounds, keys, period = entry.get("bounds"), entry.get("keys"), entry.get("period")
        columns.append(ColumnInfo(
            name=column["name"], role=entry["role"], dtype=entry.get("time") or column["dtype"],
            bounds=(float(bounds[0]), float(bounds[1])) if bounds else None,
            keys=tuple(keys) if keys else None,
            period=(str(period[0]), str(period[1])) if period else None,
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
    template_id: int | None = None  # asked through this approved template (sandbox.templates)

    def payload(self) -> dict[str, Any]:
        return {"spec": self.spec.to_dict(), "table": self.table.to_dict(), "policy": self.policy.to_dict(),
                "epsilon": self.epsilon, "epsilon_charged": self.compiled.epsilon_cost,
                "storage_key": self.target.storage_key, "sealed_key": self.target.sealed_key}

    def job(self, who: Principal, keys: CacheKeys) -> dict[str, Any]:
        """Everything a sandbox node on another machine needs to run, charge back, sign and store this query."""
        return {"payload": self.payload(), "actor": [who.user_id, who.role.value, who.organization_id],
                "epsilon_charged": self.compiled.epsilon_cost, "delta_charged": self.compiled.delta_cost,
                "accuracy_note": self.compiled.accuracy_note, "answer_key": keys.answer,
                **_receipt_facts(self)}


@dataclass(frozen=True)
class Submitted:
    run_id: int
    result: QueryResult | None  # the stored answer, when a stored release already answers the query


class QueryService:
    def _prepare(self, session: Session, who: Principal, body: QueryCreate,
                 template: TemplateUse | None = None) -> Prepared:
        licence = license_service.usable(session, who, body.license_id)
        if template is not None and template.listing_id != licence.listing_id:
            raise NotFound(f"Licence {body.license_id} is not for the template's listing",
                           zh=f"许可 {body.license_id} 不属于该模板所在的数据产品")
        target = listing_service.query_target(session, licence.listing_id)
        if target.templates_only and template is None:
            raise TemplateRequired(
                "The data office requires this listing's data to be queried through approved templates: "
                "choose one and fill in its parameters (GET /listings/{id}/templates)",
                zh="重要数据须通过已批准的查询模板查询：数据主管部门要求该数据产品只能通过已批准的模板查询，"
                   "请选择模板并填写参数", listing_id=target.listing_id)
        table, policy = table_info(target), policy_of(target)
        epsilon = self._epsilon(target, body.epsilon)
        try:  # both the parser and the compiler refuse what they cannot make private
            spec = sql_parser.parse(body.sql, table, policy)
            compiled = compile_query(spec, table, policy, epsilon)
        except sql_parser.QueryNotAllowed as exc:
            self._audit_refusal(who, licence, body, exc.detail)
            raise QueryRefused(exc.detail, zh=refusals_zh.translate(exc.reason, exc.line, exc.col)) from None
        return Prepared(licence, target, table, policy, spec, epsilon, compiled, body.sql,
                        None if template is None else template.id)

    def _epsilon(self, target: DatasetTarget, asked: float | None) -> float:
        policy = target.dp_policy
        epsilon, cap = policy.epsilon_for(asked), policy.max_epsilon_per_query
        if not policy.allows_epsilon(epsilon):
            raise EpsilonNotAllowed(f"This listing allows at most ε={cap:g} per query; you asked for ε={epsilon:g}",
                                    zh=f"该数据产品每次查询的 ε 上限为 {cap:g}，您申请的是 ε={epsilon:g}")
        return epsilon

    def preview(self, session: Session, who: Principal, body: QueryCreate,
                template: TemplateUse | None = None) -> QueryPreview:
        """Cost and expected accuracy of a query, without running or charging anything."""
        prepared = self._prepare(session, who, body, template)
        licence, compiled = prepared.licence, prepared.compiled
        paid = self._paid_for(session, who.organization_id, _cache_keys(prepared))
        cost = 0.0 if paid else compiled.epsilon_cost
        left = licence.epsilon_remaining
        return QueryPreview(epsilon_cost=cost, accuracy=_accuracy(compiled.accuracy),
                            epsilon_remaining_after=max(0.0, left - cost),
                            accuracy_note=compiled.accuracy_note, cached=paid)

    def run(self, session: Session, who: Principal, body: QueryCreate,
            template: TemplateUse | None = None) -> QueryResult:
        """Run a query and wait for its stored answer (the console, and the API's synchronous default).

        The caller's session is released before the wait: it must hold no pending writes."""
        submitted = self.submit(session, who, body, template)
        if submitted.result is not None:
            return submitted.result
        status = jobs.wait(submitted.run_id, sync_limit())
        result = self.outcome(who, submitted.run_id, status)
        if result is None:
            raise QueryStillRunning("The query is still running; its result will be on the query's page",
                                    zh="查询仍在运行，结果将显示在该查询页面", query_id=submitted.run_id)
        return result

    def submit(self, session: Session, who: Principal, body: QueryCreate,
               template: TemplateUse | None = None) -> Submitted:
        """Answer from a stored release if one fits (free), else reserve ε and queue the query's job;
        returns without waiting for the sandbox."""
        prepared = self._prepare(session, who, body, template)
        license_id = prepared.licence.id or 0
        keys = _cache_keys(prepared)
        reused = self._reuse(session, who, prepared, keys)
        session.close()  # nothing below may hold the request's connection: a query can wait minutes
        if reused is not None:
            return Submitted(reused.id or 0, self._result(reused, license_id, charged=0.0, cached=True))
        dispatch = jobs.dispatcher()
        dispatch.admit()
        run_id = self._reserve(who, prepared, body, keys, dispatch)
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
            return self._result(run, run.license_id or 0, charged=run.epsilon_charged, cached=False)
        job = run.job or {}
        kind = str(job.get("failure", "error"))
        if run.status == "failed":
            epsilon = float(job.get("epsilon_charged", run.epsilon_charged))
            raise QueryFailedCharged(_charged_sentence(kind, epsilon), zh=_charged_zh(kind, epsilon),
                                     query_id=run_id, query_status=run.status)
        raise QueryFailed(_failure_sentence(kind, run.error or ""), zh=_FAILURE_ZH.get(kind, _FAILURE_ZH["error"]),
                          query_id=run_id, query_status=run.status)

    def status(self, session: Session, who: Principal, query_id: int) -> QueryResult | QueryStatus:
        """A query of yours: its result once released, else where its job stands."""
        run = _own_run(session, who, query_id)
        if run.status == "succeeded":
            return self._result(run, run.license_id or 0, charged=run.epsilon_charged, cached=False)
        return _status(run)

    def job_status(self, session: Session, who: Principal, query_id: int) -> QueryStatus:
        """Where a query's job stands, even once it has ended (an async submission's answer, however fast)."""
        return _status(_own_run(session, who, query_id))

    def cancel(self, session: Session, who: Principal, query_id: int) -> QueryStatus:
        """Cancel a query that has not started: its ε comes back. Once a sandbox has started it, it runs out."""
        run = _own_run(session, who, query_id)
        if run.status == "queued" and settle_failure(query_id, run.attempts, "cancelled", "cancelled before it ran",
                                                     touched_data=False, expect_status="queued"):
            session.refresh(run)
            return _status(run)
        if run.status in jobs.ENDED:
            return _status(run)
        raise QueryRunning("The sandbox has started this query: it cannot be taken back, and its ε is spent by "
                           "the privacy rule", zh="沙箱已开始计算该查询，无法撤回，其 ε 按隐私规则计入",
                           query_id=query_id)

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
        query = select(QueryRun).where(QueryRun.organization_id == organization_id, QueryRun.fingerprint == fingerprint)
        run = session.exec(query).first()
        if run is not None and run.status in jobs.LIVE and jobs.sweep():  # its node may have died: end it first
            run = session.exec(query.execution_options(populate_existing=True)).first()
        if run is not None and run.status in jobs.LIVE:
            raise QueryInProgress("The same query is running right now; ask again in a moment for its stored answer",
                                  zh="相同的查询正在运行，请稍后再试以获取其保存的结果", query_id=run.id)
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
                               status="succeeded", finished_at=utcnow(), template_id=prepared.template_id)
                uow.add(run)
                uow.flush()
                result: dict[str, Any] = {"columns": columns, "rows": rows}
                run.result = {**result, "plus_minus": plus_minus, "accuracy_note": prepared.compiled.accuracy_note,
                              "source_query_id": source.id}
                run.receipt = _receipt(run, _receipt_facts(prepared), result, epsilon=source.epsilon_charged,
                                       derived_from=source.id)
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

    def _reserve(self, who: Principal, prepared: Prepared, body: QueryCreate, keys: CacheKeys,
                 dispatch: jobs.Dispatcher) -> int:
        """Charge ε and queue the job in one transaction: a job exists exactly when its ε is reserved."""
        licence, target, spec, compiled = prepared.licence, prepared.target, prepared.spec, prepared.compiled
        try:
            with unit_of_work() as uow:
                self._retire_unanswered(uow, who.organization_id, keys.measurement)
                license_service.reserve(uow, licence.id or 0, compiled.epsilon_cost, compiled.delta_cost)
                run = QueryRun(license_id=licence.id or 0, organization_id=who.organization_id, user_id=who.user_id,
                               dataset_version_id=target.dataset_version_id, sql=body.sql,
                               normalized_sql=spec.normalized_sql, fingerprint=keys.measurement,
                               epsilon_requested=prepared.epsilon, epsilon_charged=compiled.epsilon_cost,
                               template_id=prepared.template_id, job=prepared.job(who, keys),
                               **jobs.queued_fields(get_settings(), dispatch.owner))
                uow.add(run)
                uow.flush()
                dispatch.enqueue(uow, run.id or 0)
                record(uow, who.actor, "query.charged", "query", run.id,
                       {"license_id": licence.id, "epsilon": compiled.epsilon_cost, "delta": compiled.delta_cost,
                        "sql": spec.normalized_sql, "template_id": prepared.template_id})
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

    def _result(self, run: QueryRun, license_id: int, *, charged: float, cached: bool) -> QueryResult:
        with unit_of_work() as uow:
            budget, spent = license_service.budget(uow, license_id)
            ran_on = version_service.ref(uow, run.dataset_version_id)
            template = templates.ref(uow, run.template_id)
        assert run.result is not None and run.receipt is not None
        alphas = {name: Accuracy(plus_minus=value) for name, value in run.result["plus_minus"].items()}
        return QueryResult(id=run.id or 0, license_id=run.license_id, sql=run.sql, columns=run.result["columns"],
                           rows=run.result["rows"], accuracy=alphas, epsilon_charged=charged,
                           epsilon_spent_on_query=run.epsilon_charged, epsilon_remaining=max(0.0, budget - spent),
                           accuracy_note=run.result.get("accuracy_note"),
                           cached=cached, receipt=_receipt_model(run.receipt), dataset=ran_on, template=template)

    def get(self, session: Session, who: Principal, query_id: int) -> QueryResult:
        """A released result of yours (pages and receipts)."""
        run = session.get(QueryRun, query_id)
        if run is None or run.organization_id != who.organization_id or run.status != "succeeded":
            raise NotFound(f"No query {query_id} of yours")
        return self._result(run, run.license_id or 0, charged=run.epsilon_charged, cached=False)

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
                              error=_failure_note(r), template=templates.ref(session, r.template_id)) for r in runs]
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


def _receipt_facts(prepared: Prepared) -> dict[str, Any]:
    """What a receipt says about the data: an opaque HMAC of the version (never a hash of its data), and the unit."""
    table, target = prepared.table, prepared.target
    return {"dataset_version": dataset_version(get_settings(), target.dataset_version_id, target.dataset_sha256),
            "privacy_unit": {"column": table.privacy_unit, "max_contributions": table.max_contributions}}


def _receipt(run: QueryRun, facts: Mapping[str, Any], result: dict[str, Any], *, epsilon: float,
             derived_from: int | None) -> dict[str, Any]:
    """Sign what was released, with the receipt facts fixed when the query was priced."""
    return sign(signing_key(get_settings()), {
        "query_id": run.id, "query_sha256": hashlib.sha256(run.normalized_sql.encode()).hexdigest(),
        "dataset_version": facts["dataset_version"], "privacy_unit": facts["privacy_unit"],
        "result_sha256": sha256_hex(result), "epsilon": epsilon, "derived_from": derived_from,
        "issued_at": utcnow().isoformat(timespec="seconds"),
    })


def _receipt_model(stored: dict[str, Any]) -> Receipt | LegacyReceipt:
    """The stored receipt, field for field as signed (receipts from before v2 carry `dataset_sha256`)."""
    if "dataset_version" in stored:
        return Receipt.model_validate(stored)
    return LegacyReceipt.model_validate(stored)


def _failure_note(run: QueryRun) -> str | None:
    if run.status == "refunded" and (run.job or {}).get("failure") == "cancelled":
        return "Cancelled before the sandbox started it; the ε was refunded"
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
    "cancelled": "查询在运行前已取消，未扣除任何预算",
}


def _failure_sentence(kind: str, message: str) -> str:
    if kind == "timeout":
        return f"The query timed out ({message}) before it touched the data and was stopped; nothing was charged"
    if kind == "died":
        return "The sandbox stopped before the query touched the data; nothing was charged. Try again"
    if kind == "cancelled":
        return "The query was cancelled before it ran; nothing was charged"
    return "The sandbox could not prepare this query before touching the data; nothing was charged"


_CHARGED_WHAT = {
    "timeout": ("ran past the sandbox's time limit", "超出了沙箱的时间限制"),
    "memory": ("needed more memory than the sandbox allows", "所需内存超出了沙箱的限制"),
    "died": ("stopped the sandbox worker", "导致沙箱进程意外退出"),
    "error": ("could not be computed", "无法完成计算"),
}


def _charged_sentence(kind: str, epsilon: float) -> str:
    what = _CHARGED_WHAT.get(kind, _CHARGED_WHAT["error"])[0]
    return (f"The query {what} after it had started reading the data. Its ε ({epsilon:g}) was charged and "
            "nothing was released: whether a query fails once it touches the data can depend on the data, "
            "so a refund would leak it. Narrow the query (fewer groups, a smaller time range) and try again")


def _charged_zh(kind: str, epsilon: float) -> str:
    what = _CHARGED_WHAT.get(kind, _CHARGED_WHAT["error"])[1]
    return (f"查询在开始读取数据之后{what}。本次查询的 ε（{epsilon:g}）已扣除，未发布任何结果："
            "读取数据之后的失败可能取决于数据本身，退还预算会泄露信息。请缩小查询范围（更少的分组、更短的时间段）后重试")


def _own_run(session: Session, who: Principal, query_id: int) -> QueryRun:
    run = session.get(QueryRun, query_id)
    if run is None or run.organization_id != who.organization_id:
        raise NotFound(f"No query {query_id} of yours")
    return run


def _status(run: QueryRun) -> QueryStatus:
    return QueryStatus(id=run.id or 0, license_id=run.license_id, sql=run.sql, status=run.status,
                       epsilon_charged=run.epsilon_charged, created_at=run.created_at, started_at=run.started_at,
                       finished_at=run.finished_at, attempts=run.attempts, error=_failure_note(run))


def sync_limit() -> float:
    """How long a synchronous request waits: the query's own time limit plus a queue allowance."""
    settings = get_settings()
    return settings.query_timeout_seconds + settings.sandbox_lease_seconds


# the two ends of a job: both run wherever the job was computed (this process, or a sandbox node)

def _actor(run: QueryRun) -> Actor:
    user_id, role, organization_id = (run.job or {}).get("actor") or (run.user_id, "enterprise", run.organization_id)
    return Actor(int(user_id), str(role), int(organization_id))


def _end(uow: Session, run_id: int, attempt: int, expect_status: str, **values: Any) -> QueryRun | None:
    """End one attempt of a job, if it is still that attempt's to end (the exactly-once step)."""
    done = uow.execute(update(QueryRun).where(col(QueryRun.id) == run_id, col(QueryRun.status) == expect_status,
                                              col(QueryRun.attempts) == attempt)
                       .values(finished_at=utcnow(), lease_until=None, **values))
    return uow.get(QueryRun, run_id) if done.rowcount == 1 else None  # type: ignore[attr-defined]


def settle_failure(run_id: int, attempt: int, kind: str, message: str, *, touched_data: bool,
                   expect_status: str = "running") -> bool:
    """End a job that released nothing, and decide what it costs: the one place that rule lives.

    Refunded only if the failure came before the plan touched the data (`touched_data` False: it cannot
    depend on anyone's rows); otherwise the job is `failed` and its ε stays spent, since a refund would
    release whether the data made it fail, for free. The job keeps `failure` and `touched_data`, so
    whichever node answers the caller says which it was. False when the job was not that attempt's to
    end any more (another node ended it first)."""
    with unit_of_work() as uow:
        if touched_data:
            run = _end(uow, run_id, attempt, expect_status, status="failed", error=message[:2000])
        else:
            run = _end(uow, run_id, attempt, expect_status, status="refunded", error=message[:2000],
                       epsilon_charged=0.0)
        if run is None:
            return False
        job = dict(run.job or {})
        epsilon, delta = float(job.get("epsilon_charged", 0.0)), float(job.get("delta_charged", 0.0))
        run.job = {**job, "failure": kind, "touched_data": touched_data}
        uow.add(run)
        if touched_data:
            record(uow, _actor(run), "query.failed", "query", run_id,
                   {"license_id": run.license_id, "epsilon": epsilon, "delta": delta, "failure": kind,
                    "charged": True})
        else:
            _refund(uow, run, epsilon, delta)
            record(uow, _actor(run), "query.refunded", "query", run_id,
                   {"license_id": run.license_id, "epsilon": epsilon, "failure": kind})
    return True


def _refund(uow: Session, run: QueryRun, epsilon: float, delta: float) -> None:
    """Give a refunded job's ε back where it was taken: the licence's budgets, or (open statistics) the dataset's."""
    scope = (run.job or {}).get("open_statistics")
    if scope is not None:
        license_service.refund_open_statistics(uow, int(scope["dataset_id"]), int(scope["budget_version_id"]), epsilon)
    elif run.license_id is not None:
        license_service.refund(uow, run.license_id, epsilon, delta)


def store_release(run_id: int, attempt: int, released: Mapping[str, Any]) -> bool:
    """Post-process a job's DP measurement, sign and store it, once: False if this attempt no longer owns the job.

    The one home of a stored result, whichever node computed it: the answer by `answer()` (honest ±),
    the measurement itself kept (never shown) with the answer's key so that post-processed variants are
    answered from it at no cost, and the v2 receipt (`dataset_version`, `privacy_unit`)."""
    with unit_of_work() as uow:
        run = _end(uow, run_id, attempt, "running", status="succeeded")
        if run is None:
            return False
        job = run.job or {}
        payload = job["payload"]
        compiled = compile_query(QuerySpec.from_dict(payload["spec"]), TableInfo.from_dict(payload["table"]),
                                 Policy.from_dict(payload["policy"]), payload["epsilon"])
        measured = dict(released["release"])
        columns, rows, plus_minus = answer(compiled, measured)
        result: dict[str, Any] = {"columns": columns, "rows": rows}
        run.result = {**result, "plus_minus": plus_minus, "accuracy_note": job.get("accuracy_note"),
                      "release": measured, "answer_key": job.get("answer_key")}
        run.receipt = _receipt(run, job, result, epsilon=run.epsilon_charged, derived_from=None)
        uow.add(run)
        record(uow, _actor(run), "query.released", "query", run_id,
               {"result_sha256": run.receipt["result_sha256"], "rows": len(rows)})
        if run.license_id is not None:  # open statistics have no licence and no fee
            query_fees.on_release(uow, _actor(run), run.license_id, run_id)  # charged with the release, or not at all
    return True


def public_key() -> PublicKey:
    key = signing_key(get_settings())
    return PublicKey(key_id=key_id(key), public_key_pem=public_pem(key))


queries = QueryService()
