"""Registration records (登记): every published data product gets a public code, and each later change,
correction and its cancellation is appended as an event anyone can read.

The procedure follows the interim rules on registering public data resources: the provider applies (submits),
the data office accepts and reviews it formally (its approvals), then the record is under public notice (公示)
for `registration_notice_days`, during which anyone may file an objection (异议) against its code. It becomes
registered once the notice has ended and no objection to it is still open; an upheld objection is acted on by
correcting or cancelling the record. The status is derived from the record, the clock and the objections, so
nothing has to run when a notice ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from core.accounts import OPERATOR_ORG
from core.audit import record
from core.auth import Principal, Role
from core.config import get_settings
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.models import utcnow
from market import reasons
from market import repository as repo
from market.certificate import CertificateFacts, render_certificate
from market.models import Listing, Registration, RegistrationEvent
from market.schemas import (
    CorrectionCreate,
    RegistrationEventRead,
    RegistrationExport,
    RegistrationPage,
    RegistrationRead,
)
from market.service.common import get_listing, provider_name, reindex, rights_of

CORRECTABLE = ("title", "description", "sector", "update_cycle")


class RegistrationUnderNotice(Conflict):
    type = "registration-under-notice"
    title = "The registration is under public notice"


def registration_code(listing_id: int, year: int) -> str:
    """SYDJ-<year>-<listing id, 6 digits>: unique because the listing id is."""
    return f"SYDJ-{year}-{listing_id:06d}"


def snapshot(session: Session, listing: Listing) -> dict[str, Any]:
    """The registered facts of a product (public metadata only)."""
    offers = [{"name": o.name, "scenario": o.scenario, "price_minor": o.price_minor, "currency": o.currency}
              for o in repo.offers_of(session, listing.id or 0) if o.active]
    return {"title": listing.title, "provider": provider_name(session, listing), "grade": listing.grade,
            "sector": listing.sector, "update_cycle": listing.update_cycle, "scenarios": listing.scenarios,
            "ceiling_price_minor": listing.ceiling_price_minor, "offers": offers}


class RegistrationService:
    def initial(self, session: Session, who: Principal, listing: Listing, reason_code: str) -> Registration:
        """Register a product at its first publication: its public notice starts now."""
        now = utcnow()
        registration = Registration(listing_id=listing.id or 0, code=registration_code(listing.id or 0, now.year),
                                    status="notice",
                                    notice_ends_at=now + timedelta(days=get_settings().registration_notice_days))
        session.add(registration)
        session.flush()
        self._event(session, who, registration, "initial", reason_code, snapshot(session, listing))
        return registration

    def change(self, session: Session, who: Principal, listing: Listing, reason_code: str,
               summary: dict[str, Any]) -> None:
        """Append a change to a registered product's record (no-op before it is registered)."""
        registration = repo.registration_of(session, listing.id or 0)
        if registration is not None and registration.status != "cancelled":
            self._event(session, who, registration, "change", reason_code, summary)

    def cancel(self, session: Session, who: Principal, listing: Listing, reason_code: str) -> None:
        registration = repo.registration_of(session, listing.id or 0)
        if registration is None or registration.status == "cancelled":
            return
        registration.status = "cancelled"
        session.add(registration)
        self._event(session, who, registration, "cancellation", reason_code, {"title": listing.title})

    def correct(self, session: Session, who: Principal, code: str, body: CorrectionCreate) -> RegistrationRead:
        """The data office corrects wrong registered information; the listing shows the corrected text."""
        registration = self._by_code(session, code)
        reason = reasons.check("correct", body.reason_code)
        listing = get_listing(session, registration.listing_id)
        changed = {f: {"from": getattr(listing, f), "to": getattr(body, f)} for f in CORRECTABLE
                   if getattr(body, f) is not None and getattr(body, f) != getattr(listing, f)}
        if not changed:
            raise InvalidInput("Nothing to correct: every field given equals the registered one")
        for field, values in changed.items():
            setattr(listing, field, values["to"])
        session.add(listing)
        reindex(session, listing)
        self._event(session, who, registration, "correction", reason, changed, note=body.note)
        return self.read(session, registration)

    def _event(self, session: Session, who: Principal, registration: Registration, kind: str, reason_code: str,
               summary: dict[str, Any], note: str = "") -> None:
        session.add(RegistrationEvent(registration_id=registration.id or 0, kind=kind, reason_code=reason_code,
                                      summary=summary, note=note, actor_user_id=who.user_id))
        record(session, who.actor, f"registration.{kind}", "registration", registration.code,
               {"listing_id": registration.listing_id, "reason_code": reason_code})

    def _by_code(self, session: Session, code: str) -> Registration:
        registration = repo.registration_by_code(session, code)
        if registration is None:
            raise NotFound(f"No registration {code!r}")
        return registration

    def get(self, session: Session, code: str) -> RegistrationRead:
        """A public registration record with all its events."""
        return self.read(session, self._by_code(session, code))

    def list(self, session: Session, listing_id: int | None, limit: int, offset: int) -> RegistrationPage:
        rows, total = repo.registrations(session, listing_id, limit, offset)
        return RegistrationPage(items=[self.read(session, r) for r in rows], total=total)

    def read(self, session: Session, registration: Registration) -> RegistrationRead:
        listing = get_listing(session, registration.listing_id)
        events = [RegistrationEventRead.model_validate(e, from_attributes=True)
                  for e in repo.registration_events(session, registration.id or 0)]
        objections = repo.open_objections(session, registration.code)
        return RegistrationRead(code=registration.code, listing_id=listing.id or 0, title=listing.title,
                                provider=provider_name(session, listing),
                                status=status_of(registration, objections, utcnow()),
                                listing_status=listing.status, registered_at=registration.created_at,
                                notice_ends_at=registration.notice_ends_at, open_objections=objections,
                                events=events)

    def certificate(self, session: Session, who: Principal, code: str, base_url: str) -> bytes:
        """The registration certificate as a PDF, for the product's holder and the data office; issued once the
        public notice has ended (登记 → 公示 → 赋码 → 证书), and marked as cancelled once the record is."""
        registration = self._by_code(session, code)
        listing = get_listing(session, registration.listing_id)
        if who.role not in (Role.data_office, Role.provider):
            raise Forbidden("Only the product's provider and the data office download its registration certificate",
                            zh="只有该数据产品的供数单位和数据管理机构可以下载登记证书")
        if who.role is Role.provider and who.organization_id != listing.provider_org_id:
            raise NotFound(f"No registration {code!r} of yours", zh=f"没有属于贵单位的登记 {code}")
        read = self.read(session, registration)
        if read.status == "notice":
            raise RegistrationUnderNotice(
                f"{code} is still under public notice: its certificate is issued once the notice has ended with no "
                "objection open", zh=f"{code} 仍在公示期内：公示期满且无未处理的异议后方可出具登记证书")
        record(session, who.actor, "registration.certificate", "registration", code,
               {"listing_id": listing.id, "status": read.status})
        return render_certificate(CertificateFacts(
            record=read, rights=rights_of(read.provider), grade=listing.grade, sector=listing.sector,
            scenarios=list(listing.scenarios or []), issuer=f"数据管理机构 Data office · {OPERATOR_ORG}",
            check_url=f"{base_url.rstrip('/')}/registrations/{code}"))

    def export(self, session: Session) -> RegistrationExport:
        """Every registration record with its events, in the documented export format."""
        rows, _ = repo.registrations(session, None, 1_000_000, 0)
        return RegistrationExport(generated_at=utcnow(), registrations=[self.read(session, r) for r in rows])


def status_of(registration: Registration, open_objections: int, now: datetime) -> str:
    """notice → active once the notice has ended with no objection left open; cancelled stays cancelled."""
    if registration.status != "notice":
        return registration.status
    ends = registration.notice_ends_at
    if ends is None or open_objections or now < (ends if ends.tzinfo else ends.replace(tzinfo=UTC)):
        return "notice"
    return "active"


registrations = RegistrationService()
