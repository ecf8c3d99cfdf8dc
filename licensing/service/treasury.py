"""Remittance to the treasury (上缴国库): what was collected, what was handed over, what is still owed."""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from core.audit import record
from core.auth import Principal
from licensing.errors import RemittanceConflict
from licensing.ledger.models import LedgerAccount
from licensing.ledger.service import REMITTED, ledger
from licensing.models import Remittance
from licensing.schemas import RemittanceCreate, RemittancePage, RemittanceRead, TreasuryPage, TreasuryRead


class TreasuryService:
    def remit(self, session: Session, who: Principal, body: RemittanceCreate) -> RemittanceRead:
        """Record a transfer of collected revenue to the treasury; never more than is owed, each receipt once."""
        reference = body.reference.strip()
        if session.exec(select(Remittance.id).where(Remittance.reference == reference)).first() is not None:
            raise RemittanceConflict(f"The treasury receipt {reference} is recorded already")
        # PostgreSQL: remitters queue on this row. SQLite: booking first takes the write lock, so the check
        # below always sees every earlier remittance.
        session.exec(select(LedgerAccount).where(LedgerAccount.code == REMITTED).with_for_update()).first()
        entry = ledger.book_remittance(session, reference, body.amount_minor, body.currency, who.user_id)
        position = ledger.treasury_position(session, body.currency)
        if position.owed_minor < 0:
            raise RemittanceConflict(f"Only {position.owed_minor + body.amount_minor} {body.currency} minor units are "
                                     f"owed to the treasury; {body.amount_minor} cannot be remitted")
        remittance = Remittance(reference=reference, amount_minor=body.amount_minor, currency=body.currency,
                                note=body.note, entry_id=entry.id or 0, created_by=who.user_id)
        session.add(remittance)
        session.flush()
        record(session, who.actor, "treasury.remitted", "remittance", remittance.id,
               {"reference": reference, "amount_minor": body.amount_minor, "currency": body.currency,
                "owed_after_minor": position.owed_minor})
        return RemittanceRead.model_validate(remittance, from_attributes=True)

    def list(self, session: Session, limit: int, offset: int) -> RemittancePage:
        """Remittances, newest first."""
        total = session.exec(select(func.count()).select_from(Remittance)).one()
        rows = session.exec(select(Remittance).order_by(col(Remittance.id).desc()).limit(limit).offset(offset)).all()
        return RemittancePage(items=[RemittanceRead.model_validate(r, from_attributes=True) for r in rows],
                              total=int(total))

    def positions(self, session: Session) -> TreasuryPage:
        """Collected, remitted and owed per currency (CNY when nothing is booked yet)."""
        currencies = ledger.currencies(session) or ["CNY"]
        return TreasuryPage(items=[self.position(session, cur) for cur in currencies])

    def position(self, session: Session, currency: str) -> TreasuryRead:
        """Collected, remitted and owed in one currency."""
        return TreasuryRead.model_validate(ledger.treasury_position(session, currency).as_dict())


treasury = TreasuryService()
