"""Complaints (投诉) against a data product and objections (异议) to a registration, and their handling.

Anyone may file one, with or without an account: public-data rules give the public a way to object to a
registration notice and to complain about a product. The filer keeps a random tracking code that shows the
status and the reply, so nobody needs an account to follow up. The data office handles each once, with a
decision, a reason code from the list (`market.reasons`) and a reply; counts go to the disclosure and the
effectiveness metrics. A complaint names public objects only: it never reaches the data or a licensee.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import ColumnElement, update
from sqlmodel import Session, col, func, select

from core.audit import Actor, record
from core.auth import Principal
from core.errors import Conflict, InvalidInput, NotFound
from core.models import utcnow
from market import reasons
from market import repository as repo
from market.models import Complaint, Listing
from market.schemas import (
    ComplaintCreate,
    ComplaintFiled,
    ComplaintHandle,
    ComplaintPage,
    ComplaintRead,
    ComplaintStatus,
)

ACTIONS = {"upheld": "uphold_complaint", "dismissed": "dismiss_complaint"}


class ComplaintHandled(Conflict):
    type = "complaint-already-handled"
    title = "The complaint was already handled"


class ComplaintService:
    def file(self, session: Session, who: Principal | None, body: ComplaintCreate) -> ComplaintFiled:
        """File a complaint against a published product, or an objection to a registration."""
        if (body.listing_id is None) == (body.registration_code is None):
            raise InvalidInput("Name either the product (listing_id) or the registration (registration_code)",
                               zh="请指明投诉的数据产品（listing_id）或提出异议的登记编号（registration_code），二者选一")
        kind, listing_id, code = self._subject(session, body)
        complaint = Complaint(kind=kind, listing_id=listing_id, registration_code=code, text=body.text.strip(),
                              contact=body.contact.strip(), tracking_code=secrets.token_urlsafe(12),
                              filed_by=who.user_id if who else None)
        session.add(complaint)
        session.flush()
        actor = who.actor if who else Actor(None, "public", None)
        record(session, actor, f"{kind}.filed", "complaint", complaint.id,
               {"listing_id": listing_id, "registration_code": code})
        return ComplaintFiled(id=complaint.id or 0, kind=kind, tracking_code=complaint.tracking_code,
                              status=complaint.status)

    def _subject(self, session: Session, body: ComplaintCreate) -> tuple[str, int | None, str | None]:
        if body.registration_code is not None:
            registration = repo.registration_by_code(session, body.registration_code)
            if registration is None:
                raise NotFound(f"No registration {body.registration_code.strip()!r}",
                               zh=f"没有登记编号为 {body.registration_code.strip()} 的数据产品")
            return "objection", registration.listing_id, registration.code
        listing = session.get(Listing, body.listing_id)
        if listing is None or listing.published_at is None:
            raise NotFound(f"No published product {body.listing_id}",
                           zh=f"没有编号为 {body.listing_id} 的已发布数据产品")
        return "complaint", listing.id, None

    def track(self, session: Session, tracking_code: str) -> ComplaintStatus:
        """The status and reply of one complaint, for whoever holds its tracking code."""
        complaint = session.exec(select(Complaint).where(Complaint.tracking_code == tracking_code)).first()
        if complaint is None:
            raise NotFound("No complaint with this tracking code", zh="没有与该查询码对应的投诉或异议")
        return ComplaintStatus.model_validate(complaint, from_attributes=True)

    def list(self, session: Session, status: str | None, limit: int, offset: int) -> ComplaintPage:
        """Every complaint and objection, newest first (data office)."""
        query = select(Complaint)
        if status:
            query = query.where(Complaint.status == status)
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        still_open = session.exec(select(func.count()).where(Complaint.status == "open")).one()
        rows = session.exec(query.order_by(col(Complaint.id).desc()).limit(limit).offset(offset)).all()
        return ComplaintPage(items=[self._read(session, c) for c in rows], total=int(total), open=int(still_open))

    def get(self, session: Session, complaint_id: int) -> ComplaintRead:
        return self._read(session, self._get(session, complaint_id))

    def handle(self, session: Session, who: Principal, complaint_id: int, body: ComplaintHandle) -> ComplaintRead:
        """Decide a complaint once: upheld or dismissed, with a reason code and a reply to the filer."""
        complaint = self._get(session, complaint_id)
        code = reasons.check(ACTIONS[body.decision], body.reason_code)
        # A conditional update, so two clerks deciding at once record one decision, not two.
        done = session.execute(update(Complaint).where(col(Complaint.id) == complaint_id,
                                                       col(Complaint.status) == "open").values(
            status="handled", decision=body.decision, reason_code=code, reply=body.reply.strip(),
            handled_by=who.user_id, handled_at=utcnow()))
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise ComplaintHandled(f"Complaint {complaint_id} was already handled",
                                   zh=f"投诉（异议）{complaint_id} 已经处理过了")
        session.refresh(complaint)
        record(session, who.actor, f"{complaint.kind}.handled", "complaint", complaint_id,
               {"decision": body.decision, "reason_code": code})
        return self._read(session, complaint)

    def counts_between(self, session: Session, start: datetime, end: datetime) -> dict[str, int]:
        """Complaints and objections received and handled in [start, end), for the disclosure and metrics."""
        def count(*where: ColumnElement[bool]) -> int:
            return int(session.exec(select(func.count()).select_from(Complaint).where(*where)).one())

        received = (col(Complaint.created_at) >= start, col(Complaint.created_at) < end)
        return {"complaints_received": count(*received, col(Complaint.kind) == "complaint"),
                "objections_received": count(*received, col(Complaint.kind) == "objection"),
                "handled": count(col(Complaint.handled_at) >= start, col(Complaint.handled_at) < end),
                "upheld": count(col(Complaint.handled_at) >= start, col(Complaint.handled_at) < end,
                                col(Complaint.decision) == "upheld")}

    def _get(self, session: Session, complaint_id: int) -> Complaint:
        complaint = session.get(Complaint, complaint_id)
        if complaint is None:
            raise NotFound(f"No complaint {complaint_id}", zh=f"没有编号为 {complaint_id} 的投诉或异议")
        return complaint

    def _read(self, session: Session, complaint: Complaint) -> ComplaintRead:
        listing = session.get(Listing, complaint.listing_id) if complaint.listing_id else None
        return ComplaintRead.model_validate({**complaint.model_dump(),
                                             "listing_title": listing.title if listing else None})


complaints = ComplaintService()
