"""Market rules: datasets (encrypted on arrival), their dictionaries, listings and their review."""

from __future__ import annotations

import hashlib
import io
import math
import re
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlmodel import Session

from core import crypto
from core.audit import record
from core.auth import Principal
from core.config import get_settings
from core.errors import Forbidden, InvalidInput, NotFound
from core.models import Organization, utcnow
from market import repository as repo
from market.errors import (
    CoreGradeRefused,
    InvalidDataset,
    InvalidDictionary,
    ListingStateConflict,
    SelfReview,
)
from market.models import Dataset, DatasetVersion, Listing, ListingReview, Offer
from market.schemas import (
    CatalogEntry,
    DatasetRead,
    Dictionary,
    DpPolicy,
    ListingCreate,
    ListingPage,
    ListingRead,
    OfferRead,
    ReviewCreate,
)

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
APPROVALS_NEEDED = {"general": 1, "important": 2}
# The data office's floor per grade: important data gets a lower ε cap and a minimum group size.
POLICY_FLOOR = {"general": {"max_epsilon_per_query": 2.0, "min_group_size": 0},
                "important": {"max_epsilon_per_query": 0.5, "min_group_size": 10}}


def _dtype(dtype: pl.DataType) -> str:
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    return "string"


def read_table(data: bytes, filename: str, encoding: str | None = None) -> pl.DataFrame:
    """Parse an uploaded CSV (UTF-8 or GB18030/GBK) or Parquet file; 422 with the reason otherwise."""
    if not data:
        raise InvalidDataset("The file is empty")
    try:
        if data[:4] == b"PAR1" or filename.lower().endswith(".parquet"):
            frame = pl.read_parquet(io.BytesIO(data))
        else:
            frame = pl.read_csv(io.BytesIO(_decode_csv(data, encoding).encode()), infer_schema_length=10000)
    except pl.exceptions.PolarsError as exc:
        raise InvalidDataset(f"The file could not be parsed: {str(exc).splitlines()[0]}") from None
    if frame.width == 0 or frame.height == 0:
        raise InvalidDataset("The file has no rows")
    unsupported = [c for c, t in frame.schema.items() if _dtype(t) == "string" and t != pl.String]
    return frame.with_columns(pl.col(unsupported).cast(pl.String)) if unsupported else frame


def _decode_csv(data: bytes, encoding: str | None) -> str:
    if encoding:
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise InvalidDataset(f"The file is not valid {encoding}: {exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")  # government exports are often GBK; GB18030 is its superset
    except UnicodeDecodeError:
        raise InvalidDataset("The file is neither UTF-8 nor GBK/GB18030 text: say its encoding") from None


@dataclass(frozen=True)
class DatasetTarget:
    """What the sandbox needs to run a query: the public description and the sealed ciphertext."""

    listing_id: int
    dataset_id: int
    dataset_name: str
    dataset_version_id: int
    dataset_sha256: str
    storage_key: str
    sealed_key: str
    columns: list[dict[str, Any]]
    dictionary: dict[str, Any]
    row_bound: int
    grade: str
    dp_policy: dict[str, Any]


class DatasetService:
    def upload(
        self, session: Session, who: Principal, name: str, filename: str, data: bytes, encoding: str | None = None
    ) -> DatasetRead:
        """Store an upload as an encrypted Parquet version; the plaintext never touches disk."""
        name = name.strip().lower()
        if not NAME_RE.match(name):
            raise InvalidInput("A dataset name is its table name in queries: lower-case letters, digits and "
                               "underscores, starting with a letter")
        frame = read_table(data, filename, encoding)
        dataset = repo.dataset_by_name(session, name)
        if dataset is None:
            dataset = Dataset(name=name, provider_org_id=who.organization_id, created_by=who.user_id)
            session.add(dataset)
            session.flush()
        elif dataset.provider_org_id != who.organization_id:
            raise Forbidden(f"The dataset name {name!r} belongs to another provider")
        return self._store_version(session, who, dataset, frame)

    def _store_version(self, session: Session, who: Principal, dataset: Dataset, frame: pl.DataFrame) -> DatasetRead:
        buffer = io.BytesIO()
        frame.write_parquet(buffer, statistics=False)
        plaintext = buffer.getvalue()
        settings = get_settings()
        sealed = crypto.encrypt_for(crypto.load_public_key(settings.keys_dir), plaintext)
        previous = repo.latest_version(session, dataset.id or 0)
        version = (previous.version + 1) if previous else 1
        storage_key = f"ds{dataset.id}/v{version}-{hashlib.sha256(sealed.ciphertext).hexdigest()[:12]}.bin"
        path = settings.store_dir / storage_key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(sealed.ciphertext)
        columns = [{"name": n, "dtype": _dtype(t)} for n, t in frame.schema.items()]
        row = DatasetVersion(
            dataset_id=dataset.id or 0, version=version, sha256=hashlib.sha256(plaintext).hexdigest(),
            row_count=frame.height, size_bytes=len(plaintext), columns=columns, storage_key=storage_key,
            sealed_key=sealed.sealed_key, dictionary=previous.dictionary if previous else None,
        )
        session.add(row)
        session.flush()
        record(session, who.actor, "dataset.uploaded", "dataset", dataset.id,
               {"version": version, "sha256": row.sha256, "rows": row.row_count, "columns": len(columns)})
        return self._read(dataset, row)

    def _read(self, dataset: Dataset, version: DatasetVersion) -> DatasetRead:
        return DatasetRead.model_validate({
            "id": dataset.id, "name": dataset.name, "version": version.version, "columns": version.columns,
            "sha256": version.sha256, "row_count": version.row_count, "size_bytes": version.size_bytes})

    def own_dataset(self, session: Session, who: Principal, dataset_id: int) -> tuple[Dataset, DatasetVersion]:
        dataset = session.get(Dataset, dataset_id)
        if dataset is None or dataset.provider_org_id != who.organization_id:
            raise NotFound(f"No dataset {dataset_id} of yours")
        version = repo.latest_version(session, dataset_id)
        assert version is not None
        return dataset, version

    def set_dictionary(self, session: Session, who: Principal, dataset_id: int, dictionary: Dictionary) -> Dictionary:
        """Check the dictionary against the dataset's columns and store it on the latest version."""
        dataset, version = self.own_dataset(session, who, dataset_id)
        checked = check_dictionary(dictionary, {c["name"]: c["dtype"] for c in version.columns})
        version.dictionary = checked.model_dump(mode="json")
        session.add(version)
        record(session, who.actor, "dataset.dictionary_set", "dataset", dataset.id, {"version": version.version})
        return checked


def check_dictionary(dictionary: Dictionary, dtypes: dict[str, str]) -> Dictionary:
    seen: set[str] = set()
    for column in dictionary.columns:
        if column.name not in dtypes:
            raise InvalidDictionary(f"The dataset has no column {column.name!r}")
        if column.name in seen:
            raise InvalidDictionary(f"The column {column.name!r} is described twice")
        seen.add(column.name)
        _check_column(column.name, column.role, column.bounds, dtypes[column.name])
    unit = dictionary.privacy_unit
    if unit.column is not None:
        roles = {c.name: c.role for c in dictionary.columns}
        if roles.get(unit.column) != "identifier":
            raise InvalidDictionary(f"The privacy unit {unit.column!r} must be a column with the role identifier")
    missing = [n for n in dtypes if n not in seen]
    extra = [{"name": n, "role": "excluded", "description": ""} for n in missing]
    return Dictionary.model_validate({**dictionary.model_dump(), "columns": [
        *dictionary.model_dump()["columns"], *extra]})


def _check_column(name: str, role: str, bounds: tuple[float, float] | None, dtype: str) -> None:
    if role == "measure":
        if dtype not in ("int", "float"):
            raise InvalidDictionary(f"The measure {name!r} must be numeric; it holds {dtype} values")
        if bounds is None or not all(math.isfinite(b) for b in bounds) or bounds[0] >= bounds[1]:
            raise InvalidDictionary(f"The measure {name!r} needs finite bounds [low, high] with low < high")


class ListingService:
    def create(self, session: Session, who: Principal, body: ListingCreate) -> ListingRead:
        """Draft a listing over one of the provider's datasets (its dictionary must be written)."""
        if body.proposed_grade == "core":
            raise CoreGradeRefused("Core data (核心数据) cannot be listed: the platform never publishes it")
        dataset, version = DatasetService().own_dataset(session, who, body.dataset_id)
        for offer in body.offers:
            if offer.scenario == "public_welfare" and offer.price_minor != 0:
                raise InvalidInput(f"The offer {offer.name!r} is for public welfare, which is always free")
        listing = Listing(
            dataset_id=dataset.id or 0, dataset_version_id=version.id or 0, provider_org_id=who.organization_id,
            created_by=who.user_id, title=body.title, description=body.description, keywords=body.keywords,
            sector=body.sector, update_cycle=body.update_cycle, proposed_grade=body.proposed_grade,
            dp_policy=body.dp_policy.model_dump(),
        )
        session.add(listing)
        session.flush()
        for offer in body.offers:
            session.add(Offer(listing_id=listing.id or 0, **offer.model_dump()))
        session.flush()
        record(session, who.actor, "listing.created", "listing", listing.id, {"title": listing.title})
        return self.read(session, listing)

    def submit(self, session: Session, who: Principal, listing_id: int) -> ListingRead:
        listing = self._own(session, who, listing_id)
        if listing.status not in ("draft", "changes_requested"):
            raise ListingStateConflict(f"Only a draft can be submitted; this listing is {listing.status}")
        version = repo.latest_version(session, listing.dataset_id)
        if version is None or not version.dictionary:
            raise ListingStateConflict("Write the data dictionary (PUT /datasets/{id}/dictionary) before submitting")
        listing.dataset_version_id = version.id or 0
        listing.status, listing.approvals = "submitted", 0
        listing.submitted_by, listing.submitted_at = who.user_id, utcnow()
        session.add(listing)
        record(session, who.actor, "listing.submitted", "listing", listing.id, {"dataset_version": version.version})
        return self.read(session, listing)

    def review(self, session: Session, who: Principal, listing_id: int, body: ReviewCreate) -> ListingRead:
        """Record a data-office decision; publish once approvals suffice for the grade."""
        listing = self._get(session, listing_id)
        if listing.status != "submitted":
            raise ListingStateConflict(f"Only a submitted listing can be reviewed; this one is {listing.status}")
        if who.user_id in (listing.submitted_by, listing.created_by):
            raise SelfReview("You submitted this listing; another data-office user must review it")
        if self._already_approved(session, listing, who.user_id):
            raise SelfReview("You approved this submission already; a second, different reviewer must approve")
        grade = body.grade or listing.grade or listing.proposed_grade
        if body.decision == "approve" and grade == "core":
            raise CoreGradeRefused("Core data (核心数据) can never be published; reject the listing instead")
        session.add(ListingReview(listing_id=listing.id or 0, reviewer_id=who.user_id, decision=body.decision,
                                  grade=grade, reason_code=body.reason_code, comment=body.comment))
        self._apply_decision(listing, body, grade)
        session.add(listing)
        record(session, who.actor, f"listing.review.{body.decision}", "listing", listing.id,
               {"grade": grade, "reason_code": body.reason_code, "status": listing.status})
        return self.read(session, listing)

    def _apply_decision(self, listing: Listing, body: ReviewCreate, grade: str) -> None:
        if body.decision == "reject":
            listing.status = "rejected"
            return
        if body.decision == "request_changes":
            listing.status, listing.approvals = "changes_requested", 0
            return
        listing.grade = grade
        listing.dp_policy = _policy_for(grade, body.dp_policy or DpPolicy.model_validate(listing.dp_policy))
        if body.ceiling_price_minor is not None:
            listing.ceiling_price_minor = body.ceiling_price_minor
        listing.approvals += 1
        if listing.approvals >= APPROVALS_NEEDED[grade]:
            listing.status, listing.published_at = "published", utcnow()

    def _already_approved(self, session: Session, listing: Listing, user_id: int) -> bool:
        """Whether `user_id` approved the current submission round already (two approvers must differ)."""
        return listing.approvals > 0 and repo.approved_since(
            session, listing.id or 0, user_id, listing.submitted_at or utcnow())

    def _get(self, session: Session, listing_id: int) -> Listing:
        listing = session.get(Listing, listing_id)
        if listing is None:
            raise NotFound(f"No listing {listing_id}")
        return listing

    def _own(self, session: Session, who: Principal, listing_id: int) -> Listing:
        listing = self._get(session, listing_id)
        if listing.provider_org_id != who.organization_id:
            raise NotFound(f"No listing {listing_id} of yours")
        return listing

    def get_published(self, session: Session, listing_id: int) -> Listing:
        listing = session.get(Listing, listing_id)
        if listing is None or listing.status != "published":
            raise NotFound(f"No published listing {listing_id}")
        return listing

    def read(self, session: Session, listing: Listing) -> ListingRead:
        dataset = session.get(Dataset, listing.dataset_id)
        provider = session.get(Organization, listing.provider_org_id)
        assert dataset is not None and provider is not None
        offers = [OfferRead.model_validate(o, from_attributes=True) for o in repo.offers_of(session, listing.id or 0)]
        return ListingRead.model_validate({
            **listing.model_dump(), "dataset_name": dataset.name, "provider": provider.name, "offers": offers})

    def catalog(
        self, session: Session, q: str | None, sector: str | None, grade: str | None, limit: int, offset: int
    ) -> ListingPage:
        rows, total = repo.search_published(session, q, sector, grade, limit, offset)
        return ListingPage(items=[self.read(session, r) for r in rows], total=total)

    def catalog_entry(self, session: Session, listing_id: int) -> CatalogEntry:
        listing = self.get_published(session, listing_id)
        version = session.get(DatasetVersion, listing.dataset_version_id)
        assert version is not None
        dictionary = Dictionary.model_validate(version.dictionary) if version.dictionary else None
        return CatalogEntry.model_validate({**self.read(session, listing).model_dump(), "dictionary": dictionary})

    def offer(self, session: Session, listing_id: int, offer_id: int) -> tuple[Listing, Offer]:
        """A published listing and one of its active offers (what licensing sells)."""
        listing = self.get_published(session, listing_id)
        offer = session.get(Offer, offer_id)
        if offer is None or offer.listing_id != listing.id or not offer.active:
            raise NotFound(f"The listing has no offer {offer_id}")
        return listing, offer

    def query_target(self, session: Session, listing_id: int) -> DatasetTarget:
        """The sandbox's view of a listing: public description plus the sealed ciphertext's location."""
        listing = self._get(session, listing_id)
        version = session.get(DatasetVersion, listing.dataset_version_id)
        dataset = session.get(Dataset, listing.dataset_id)
        assert version is not None and dataset is not None and listing.grade is not None
        return DatasetTarget(
            listing_id=listing.id or 0, dataset_id=dataset.id or 0, dataset_name=dataset.name, dataset_version_id=version.id or 0,
            dataset_sha256=version.sha256, storage_key=version.storage_key, sealed_key=version.sealed_key,
            columns=version.columns, dictionary=version.dictionary or {}, row_bound=_row_bound(version.row_count),
            grade=listing.grade, dp_policy=listing.dp_policy,
        )


def _policy_for(grade: str, requested: DpPolicy) -> dict[str, Any]:
    floor = POLICY_FLOOR[grade]
    cap = min(requested.max_epsilon_per_query, float(floor["max_epsilon_per_query"]))
    default = min(requested.default_epsilon or cap / 2, cap)
    return {**requested.model_dump(), "max_epsilon_per_query": cap, "default_epsilon": default,
            "min_group_size": max(requested.min_group_size, int(floor["min_group_size"]))}


def _row_bound(rows: int) -> int:
    """A public upper bound on the row count: the next power of two, which reveals only its rough size.

    OpenDP trusts this bound, and the noise on float sums grows with it, so it is kept tight."""
    return 1 << max(rows, 16).bit_length()


datasets = DatasetService()
listings = ListingService()
