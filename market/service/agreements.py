"""Authorization agreements (授权运营协议): the authorizing body lets an operator organization run the public
data in a scope — provider departments, datasets or sectors — for a term, under conditions.

A listing is submitted, published and resumed only within an active agreement that covers it, and it keeps
the agreement it was submitted under. When that agreement ends — revoked by the data office, or its term
passed — each of its live listings moves to another active agreement that covers it, or is suspended with
the reason `authorization-ended` (its licensees are told by `licensing.notices`). A term passing is noticed
by `sweep`, run by every API node's background job: the agreement reads `expired` at once, and the sweep
claims each ended agreement by a conditional UPDATE, so two nodes sweeping together suspend its listings once.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from core import store
from core.accounts import accounts
from core.audit import Actor, record
from core.auth import Principal
from core.config import get_settings
from core.errors import Conflict, InvalidInput, NotFound
from core.models import Organization, utcnow
from market.errors import AuthorizationRequired
from market.models import AuthorizationAgreement, Dataset, Listing
from market.schemas import AgreementCreate, AgreementPage, AgreementRead, AgreementRevoke
from market.service.common import move_as

CST = timezone(timedelta(hours=8), "CST")
SUSPENDABLE = ("published", "ordering_paused")
FINISHED = ("retired", "rejected")  # nothing follows from an agreement's end for these
DOCUMENT_LIMIT = 20 * 1024 * 1024


def starts(day: date) -> datetime:
    """The first instant of a day in China Standard Time, as UTC."""
    return datetime.combine(day, time(0), CST).astimezone(UTC)


def status_of(agreement: AuthorizationAgreement, now: datetime | None = None) -> str:
    """active, not_started, expired or revoked: the data office's decision read against the clock."""
    now = now or utcnow()
    if agreement.status == "revoked":
        return "revoked"
    if now < agreement.starts_at:
        return "not_started"
    return "expired" if now >= agreement.ends_at else "active"


def covers(agreement: AuthorizationAgreement, listing: Listing) -> bool:
    return (listing.provider_org_id in agreement.departments or listing.dataset_id in agreement.datasets
            or (bool(listing.sector) and listing.sector in agreement.sectors))


class AgreementService:
    def create(self, session: Session, who: Principal, body: AgreementCreate) -> AgreementRead:
        """Record an agreement; its operator is an organization of its own (kind `operator`), never the data
        office's."""
        return self._create(session, who.actor, who.organization_id, body)

    def seed(self, session: Session, body: AgreementCreate) -> AgreementRead:
        """An agreement recorded by the platform itself (the demo's, and the test world's)."""
        return self._create(session, Actor.system(), None, body)

    def _create(self, session: Session, actor: Actor, own_org: int | None, body: AgreementCreate) -> AgreementRead:
        if body.ends_on < body.starts_on:
            raise InvalidInput("The term ends before it starts", zh="授权期限的结束日期早于开始日期，请检查")
        if not (body.title.strip() and body.authorizing_body.strip() and body.operator.strip()):
            raise InvalidInput("Name the agreement, its authorizing body and its operator",
                               zh="请填写协议标题、授权主体和运营机构")
        departments, datasets = self._departments(session, body.departments), self._datasets(session, body.datasets)
        sectors = sorted({s.strip() for s in body.sectors if s.strip()})
        if not (departments or datasets or sectors):
            raise InvalidInput("Name the scope: provider departments, datasets or sectors",
                               zh="请填写授权范围：供数单位、数据集或行业领域至少一项")
        operator = self._operator(session, own_org, body.operator.strip())
        agreement = AuthorizationAgreement(
            title=body.title.strip(), authorizing_body=body.authorizing_body.strip(), operator_org_id=operator.id or 0,
            departments=departments, datasets=datasets, sectors=sectors, starts_at=starts(body.starts_on),
            ends_at=starts(body.ends_on + timedelta(days=1)), conditions=body.conditions, created_by=actor.user_id)
        session.add(agreement)
        session.flush()
        record(session, actor, "agreement.created", "agreement", agreement.id,
               {"title": agreement.title, "operator": operator.name, "departments": agreement.departments,
                "datasets": agreement.datasets, "sectors": agreement.sectors,
                "starts_on": body.starts_on.isoformat(), "ends_on": body.ends_on.isoformat()})
        return self._read(session, agreement)

    def _operator(self, session: Session, own_org: int | None, name: str) -> Organization:
        existing = session.exec(select(Organization).where(Organization.name == name)).first()
        if existing is not None and (existing.id == own_org or existing.kind != "operator"):
            raise InvalidInput(f"{name!r} is not an operator organization: the operator must be an organization of "
                               "its own, not the data office nor a provider or an enterprise",
                               zh=f"“{name}”不是运营机构：运营机构须为独立的组织，不能是数据主管部门、供数单位或企业")
        return existing or accounts.get_or_create_org(session, name, "operator")

    def _departments(self, session: Session, names: list[str]) -> list[int]:
        ids = []
        for name in {n.strip() for n in names if n.strip()}:
            org = session.exec(select(Organization).where(Organization.name == name,
                                                          Organization.kind == "provider")).first()
            if org is None:
                raise InvalidInput(f"No provider department is called {name!r}",
                                   zh=f"没有名为“{name}”的供数单位，请核对名称")
            ids.append(org.id or 0)
        return sorted(ids)

    def _datasets(self, session: Session, names: list[str]) -> list[int]:
        ids = []
        for name in {n.strip().lower() for n in names if n.strip()}:
            dataset = session.exec(select(Dataset).where(Dataset.name == name)).first()
            if dataset is None:
                raise InvalidInput(f"No dataset is called {name!r}", zh=f"没有名为“{name}”的数据集，请核对名称")
            ids.append(dataset.id or 0)
        return sorted(ids)

    def attach(self, session: Session, who: Principal, agreement_id: int, filename: str,
               data: bytes) -> AgreementRead:
        """Attach the signed agreement (PDF or scan). It is a public document, disclosed every year, so it is kept
        as it is; the store checks its SHA-256 on every read. A later document replaces the earlier one."""
        agreement = self._get(session, agreement_id)
        if not data:
            raise InvalidInput("The document is empty", zh="上传的协议文件为空")
        if len(data) > DOCUMENT_LIMIT:
            raise InvalidInput("Agreement documents up to 20 MB are accepted", zh="协议文件不能超过 20 MB")
        digest = hashlib.sha256(data).hexdigest()
        key = f"agreements/a{agreement.id}-{digest}.bin"
        store.store_for(get_settings()).put(key, data)
        agreement.document_name = (filename or "agreement").rsplit("/", 1)[-1][:200]
        agreement.document_key, agreement.document_sha256, agreement.document_size = key, digest, len(data)
        session.add(agreement)
        record(session, who.actor, "agreement.document_attached", "agreement", agreement.id,
               {"name": agreement.document_name, "sha256": digest, "size": len(data)})
        return self._read(session, agreement)

    def document(self, session: Session, agreement_id: int) -> tuple[str, bytes]:
        """The attached document's name and bytes (404 when none is attached)."""
        agreement = self._get(session, agreement_id)
        if agreement.document_key is None:
            raise NotFound(f"Agreement {agreement_id} has no document attached")
        data = store.store_for(get_settings()).get(agreement.document_key)
        return agreement.document_name, store.verify(agreement.document_key, data, agreement.document_sha256)

    def revoke(self, session: Session, who: Principal, agreement_id: int, body: AgreementRevoke) -> AgreementRead:
        """Revoke an agreement now: its live listings move to another agreement that covers them, or are
        suspended (`authorization-ended`)."""
        agreement = self._get(session, agreement_id)
        now = utcnow()
        claimed = session.execute(update(AuthorizationAgreement).where(
            col(AuthorizationAgreement.id) == agreement_id, col(AuthorizationAgreement.status) == "active",
            col(AuthorizationAgreement.ended_at).is_(None)).values(
            status="revoked", revoked_by=who.user_id, revoked_at=now, revoke_reason=body.reason, ended_at=now)
            .execution_options(synchronize_session=False))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(f"Agreement {agreement_id} has ended already ({status_of(agreement)})",
                           zh="该授权运营协议已终止或已届满，不能再撤销")
        session.refresh(agreement)
        record(session, who.actor, "agreement.revoked", "agreement", agreement.id, {"reason": body.reason})
        self._end(session, who.actor, agreement, now)
        return self._read(session, agreement)

    def sweep(self, session: Session, now: datetime | None = None) -> int:
        """End every agreement whose term has passed and that was not acted on yet; returns the listings
        suspended. Safe on many nodes at once: each agreement is claimed by one conditional UPDATE."""
        now = now or utcnow()
        due = session.exec(select(AuthorizationAgreement).where(
            AuthorizationAgreement.status == "active", col(AuthorizationAgreement.ended_at).is_(None),
            col(AuthorizationAgreement.ends_at) <= now)).all()
        suspended = 0
        for agreement in due:
            claimed = session.execute(update(AuthorizationAgreement).where(
                col(AuthorizationAgreement.id) == agreement.id, col(AuthorizationAgreement.ended_at).is_(None))
                .values(ended_at=now).execution_options(synchronize_session=False))
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue
            session.refresh(agreement)
            record(session, Actor.system(), "agreement.expired", "agreement", agreement.id,
                   {"ends_at": agreement.ends_at.isoformat()})
            suspended += self._end(session, Actor.system(), agreement, now)
        return suspended

    def _end(self, session: Session, actor: Actor, agreement: AuthorizationAgreement, now: datetime) -> int:
        suspended = 0
        for listing in session.exec(select(Listing).where(Listing.agreement_id == agreement.id,
                                                          col(Listing.status).not_in(FINISHED))).all():
            other = self.covering(session, listing, now, excluding=agreement.id)
            if other is not None:
                listing.agreement_id = other.id
                session.add(listing)
                record(session, actor, "listing.agreement_changed", "listing", listing.id,
                       {"from": agreement.id, "to": other.id})
            elif listing.status in SUSPENDABLE:
                move_as(session, actor, listing, "suspend", "suspended", "authorization-ended",
                        f"授权运营协议“{agreement.title}”已终止 The authorization agreement ended",
                        agreement_id=agreement.id)
                suspended += 1
        return suspended

    def covering(self, session: Session, listing: Listing, now: datetime | None = None,
                 excluding: int | None = None) -> AuthorizationAgreement | None:
        """The active agreement that covers a listing: the one it is under if that still holds, else the one
        that runs longest."""
        now = now or utcnow()
        active = [a for a in session.exec(select(AuthorizationAgreement).where(
            AuthorizationAgreement.status == "active", col(AuthorizationAgreement.starts_at) <= now,
            col(AuthorizationAgreement.ends_at) > now)).all() if a.id != excluding and covers(a, listing)]
        current = next((a for a in active if a.id == listing.agreement_id), None)
        return current or max(active, key=lambda a: (a.ends_at, a.id or 0), default=None)

    def still_covers(self, session: Session, listing: Listing) -> bool:
        """Whether a listing may serve now: its agreement is active, or another one covers it. Listings from before
        agreements existed (none recorded) are left to the data office."""
        if listing.agreement_id is None:
            return True
        agreement = session.get(AuthorizationAgreement, listing.agreement_id)
        if agreement is not None and status_of(agreement) == "active":
            return True
        return self.covering(session, listing) is not None

    def require_cover(self, session: Session, listing: Listing) -> AuthorizationAgreement:
        """The agreement a listing is submitted, published or resumed under (recorded on it), or 409."""
        agreement = self.covering(session, listing)
        if agreement is None:
            raise AuthorizationRequired(
                "No active authorization agreement covers this listing (its department, dataset or sector): the "
                "data office must record one before it can be submitted, published or resumed",
                zh="没有有效的授权运营协议覆盖该数据产品（其供数单位、数据集或行业领域）：须由数据主管部门先登记"
                   "授权运营协议，才能提交审核、发布或恢复")
        listing.agreement_id = agreement.id
        session.add(listing)
        return agreement

    def list(self, session: Session, limit: int = 200, offset: int = 0) -> AgreementPage:
        """Every agreement, newest first."""
        rows = session.exec(select(AuthorizationAgreement).order_by(col(AuthorizationAgreement.id).desc())
                            .limit(limit).offset(offset)).all()
        total = session.exec(select(func.count()).select_from(AuthorizationAgreement)).one()
        return AgreementPage(items=[self._read(session, a) for a in rows], total=total)

    def get(self, session: Session, agreement_id: int) -> AgreementRead:
        return self._read(session, self._get(session, agreement_id))

    def _get(self, session: Session, agreement_id: int) -> AuthorizationAgreement:
        agreement = session.get(AuthorizationAgreement, agreement_id)
        if agreement is None:
            raise NotFound(f"No authorization agreement {agreement_id}", zh=f"没有编号为 {agreement_id} 的授权运营协议")
        return agreement

    def _read(self, session: Session, agreement: AuthorizationAgreement) -> AgreementRead:
        operator = session.get(Organization, agreement.operator_org_id)
        listing_ids = session.exec(select(Listing.id).where(Listing.agreement_id == agreement.id)
                                   .order_by(col(Listing.id))).all()
        return AgreementRead.model_validate({
            **agreement.model_dump(), "operator": operator.name if operator else "",
            "departments": _names(session, Organization, agreement.departments),
            "datasets": _names(session, Dataset, agreement.datasets), "status": status_of(agreement),
            "starts_on": agreement.starts_at.astimezone(CST).date(),
            "ends_on": (agreement.ends_at.astimezone(CST) - timedelta(days=1)).date(),
            "listings": [i for i in listing_ids if i is not None]})


def _names(session: Session, model: type[Organization] | type[Dataset], ids: Sequence[int]) -> builtins.list[str]:
    if not ids:
        return []
    rows = session.exec(select(model.name, model.id).where(col(model.id).in_(ids))).all()
    return [name for name, _ in sorted(rows, key=lambda row: ids.index(row[1]))]


agreements = AgreementService()
