"""Versions as others see them: which version a query ran on, a listing's changelog and freshness, the
announcement that a live listing moved to a new version, and each version's quality report.

Licensees see a version's number, date and changelog line, never its size or a hash of its data.
The quality report (completeness, values outside bounds, keys never seen, rows per privacy unit) is
for the dataset's provider and the data office: aggregate counts, no values.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from core.auth import Principal, Role
from core.errors import NotFound
from core.models import utcnow
from market import repository as repo
from market.events import VersionPublished, version_published
from market.models import Dataset, DatasetVersion, Listing
from market.schemas import ColumnProfile, Freshness, QualityColumn, QualityReport, RowsPerUnit, VersionRef
from market.service.catalog import PERIODICITY

MONTHS = {"MONTHLY": 1, "QUARTERLY": 3, "ANNUAL": 12}
DAYS = {"DAILY": 1, "WEEKLY": 7}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _add_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def next_due(last: datetime, cycle: str) -> datetime | None:
    """When the next update is due by a listing's update cycle (None for irregular or unknown cycles)."""
    period = PERIODICITY.get(cycle.strip().lower())
    if period in DAYS:
        return last + timedelta(days=DAYS[period])
    if period in MONTHS:
        return _add_months(last, MONTHS[period])
    return None


def published_since(refs: list[VersionRef], moment: datetime) -> list[VersionRef]:
    """The versions uploaded after a moment (a licence's start): what its licensee should hear of."""
    return [ref for ref in refs if _aware(ref.created_at) > _aware(moment)]


class VersionService:
    def ref(self, session: Session, version_id: int) -> VersionRef:
        """The dataset and version number a query ran on, with its changelog line."""
        version = session.get(DatasetVersion, version_id)
        if version is None:
            raise NotFound(f"No dataset version {version_id}")
        dataset = session.get(Dataset, version.dataset_id)
        assert dataset is not None
        return _ref(dataset, version)

    def privacy_unit(self, session: Session, listing_id: int) -> dict[str, Any]:
        """The privacy unit of a listing's approved dictionary (`{"column", "max_contributions"}`)."""
        listing = session.get(Listing, listing_id)
        if listing is None:
            raise NotFound(f"No listing {listing_id}")
        unit = (listing.dictionary or {}).get("privacy_unit") or {}
        return {"column": unit.get("column"), "max_contributions": int(unit.get("max_contributions") or 1)}

    def history(self, session: Session, listing: Listing) -> list[VersionRef]:
        """The versions a listing has offered up to its current one, newest first, with their changelogs."""
        current = session.get(DatasetVersion, listing.dataset_version_id)
        dataset = session.get(Dataset, listing.dataset_id)
        assert current is not None and dataset is not None
        return [_ref(dataset, v) for v in repo.versions_of(session, listing.dataset_id) if v.version <= current.version]

    def freshness(self, session: Session, listing: Listing) -> Freshness:
        """Last updated (the current version's upload) and the next update due by the update cycle."""
        version = session.get(DatasetVersion, listing.dataset_version_id)
        assert version is not None
        last = _aware(version.created_at)
        due = next_due(last, listing.update_cycle)
        return Freshness(last_updated=last, update_cycle=listing.update_cycle, next_update_due=due,
                         overdue=due is not None and due < utcnow())

    def announce(self, session: Session, who: Principal, listing: Listing, previous_version_id: int | None) -> None:
        """Tell whoever follows `market.events` that a live listing now offers a new version."""
        version = session.get(DatasetVersion, listing.dataset_version_id)
        dataset = session.get(Dataset, listing.dataset_id)
        previous = session.get(DatasetVersion, previous_version_id) if previous_version_id else None
        if version is None or dataset is None or (previous is not None and previous.id == version.id):
            return
        version_published(session, VersionPublished(
            listing_id=listing.id or 0, listing_title=listing.title, dataset_name=dataset.name,
            version=version.version, previous_version=previous.version if previous else None,
            changelog=version.changelog, actor=who.actor))

    def quality(self, session: Session, who: Principal, dataset_id: int, number: int | None = None) -> QualityReport:
        """One version's quality report (the latest by default): its provider's or the data office's to read."""
        dataset = session.get(Dataset, dataset_id)
        allowed = who.role is Role.data_office or (
            who.role is Role.provider and dataset is not None and dataset.provider_org_id == who.organization_id)
        if dataset is None or not allowed:
            raise NotFound(f"No dataset {dataset_id} you may see")
        versions = repo.versions_of(session, dataset_id)
        version = next((v for v in versions if number is None or v.version == number), None)
        if version is None:
            raise NotFound(f"Dataset {dataset_id} has no version {number}")
        return _report(dataset, version)


def _ref(dataset: Dataset, version: DatasetVersion) -> VersionRef:
    return VersionRef(dataset=dataset.name, version=version.version, changelog=version.changelog,
                      created_at=_aware(version.created_at))


def _report(dataset: Dataset, version: DatasetVersion) -> QualityReport:
    profile = version.profile or {"rows": version.row_count, "columns": []}
    rows = int(profile["rows"]) or 1
    described = {c["name"]: c for c in (version.dictionary or {}).get("columns", [])}
    counted = profile.get("quality") or {}
    columns = [_quality_column(ColumnProfile.model_validate(c), described.get(c["name"]), rows,
                               (counted.get("outside_bounds") or {}).get(c["name"]))
               for c in profile["columns"]]
    for column in columns:
        column.unreadable_times = (counted.get("unreadable_times") or {}).get(column.name)
    unit = counted.get("rows_per_unit")
    return QualityReport(dataset_id=dataset.id or 0, dataset=dataset.name, version=version.version,
                         rows=int(profile["rows"]), changelog=version.changelog,
                         created_at=_aware(version.created_at), columns=columns,
                         rows_per_unit=RowsPerUnit.model_validate(unit) if unit else None)


def _quality_column(seen: ColumnProfile, entry: dict[str, Any] | None, rows: int,
                    outside: int | None) -> QualityColumn:
    role = entry.get("role") if entry else None
    column = QualityColumn(name=seen.name, role=role, completeness=round(1 - seen.nulls / rows, 4),
                           missing=seen.nulls, outside_bounds=outside)
    bounds = entry.get("bounds") if entry else None
    if role == "measure" and bounds and outside is None and seen.min is not None and seen.max is not None \
            and bounds[0] <= seen.min and seen.max <= bounds[1]:
        column.outside_bounds = 0  # the whole range lies inside: nothing to count
    period = entry.get("period") if entry else None
    if period and outside is None and seen.earliest is not None and seen.latest is not None \
            and period[0] <= seen.earliest and seen.latest[:len(period[1])] <= period[1]:
        column.outside_bounds = 0  # the whole span lies inside the period (ISO text orders as time does)
    keys = entry.get("keys") if entry else None
    if role == "dimension" and keys and seen.values is not None:
        data, listed = {str(v) for v in seen.values}, {str(k) for k in keys}
        column.keys_never_seen = [k for k in keys if str(k) not in data]
        column.values_not_in_keys = len(data - listed)
    return column


versions = VersionService()
