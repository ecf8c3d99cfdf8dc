"""Market routes: datasets, dictionaries, listings, review and lifecycle, the public catalog, registrations."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse

from core.auth import DataOffice, MaybeUser, ProviderUser, SessionDep
from core.config import get_settings
from market import reasons
from market.deps import ListingStaff
from market.intake import UPLOAD_OPENAPI, UploadTooLarge, read_upload  # noqa: F401 (UploadTooLarge: re-exported)
from market.schemas import (
    CatalogEntry,
    ComplaintCreate,
    ComplaintFiled,
    ComplaintHandle,
    ComplaintPage,
    ComplaintRead,
    ComplaintStatus,
    CorrectionCreate,
    DatasetDetail,
    DatasetPage,
    DatasetRead,
    Dictionary,
    FeeSchedule,
    FindingPage,
    GradeChange,
    KeysConfirm,
    ListingCreate,
    ListingDetail,
    ListingPage,
    ListingRead,
    ListingUpdate,
    OfferCreate,
    PreviewRead,
    ProfileRead,
    ReasonPage,
    ReasonRead,
    RegistrationExport,
    RegistrationPage,
    RegistrationRead,
    ReviewCreate,
    SecurityReviewCreate,
    SecurityReviewPage,
    SecurityReviewRead,
    TransitionCreate,
)
from market.service import catalog as catalog_service
from market.service import datasets, listings, registrations
from market.service.complaints import complaints
from market.service.security import security_reviews

router = APIRouter(tags=["market"])
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0)]


@router.post("/datasets", status_code=201, response_model=DatasetRead, openapi_extra=UPLOAD_OPENAPI)
async def upload_dataset(request: Request, session: SessionDep, who: ProviderUser) -> DatasetRead:
    """Upload a CSV (UTF-8, GBK/GB18030, or the `encoding` you name), Excel (.xlsx, first sheet) or Parquet file
    (multipart fields `file`, `name`, optional `encoding`, `missing_values`, `changelog`); it is profiled in
    memory and encrypted before it is written.

    Cells such as `NA`, `N/A`, `#N/A`, `NULL`, `\\N`, `—`, `无`, `暂无` or empty are read as missing and counted
    per column (`missing_values` in the answer); send `missing_values` (comma-separated) to name your own
    markers instead. `changelog` is one line telling licensees what this version changes.

    The caller and the declared size are checked before the body is read; the file never touches disk
    unencrypted. Uploading the same `name` again makes a new version of that dataset; live listings whose
    dictionary did not change move to it at once (`listings_moved`), others wait for a review."""
    form = await read_upload(request)
    return datasets.upload(session, who, form.fields["name"], form.filename, form.data,
                           form.fields.get("encoding") or None, form.fields.get("missing_values") or None,
                           form.fields.get("changelog") or "")


@router.get("/datasets", response_model=DatasetPage)
def list_datasets(session: SessionDep, who: ProviderUser, limit: Limit = 50, offset: Offset = 0) -> DatasetPage:
    """Your datasets, each with its versions."""
    return datasets.list(session, who, limit, offset)


@router.get("/datasets/{dataset_id}", response_model=DatasetDetail)
def get_dataset(dataset_id: int, session: SessionDep, who: ProviderUser) -> DatasetDetail:
    """One of your datasets: versions, working dictionary, the listings over it."""
    return datasets.detail(session, who, dataset_id)


@router.get("/datasets/{dataset_id}/profile", response_model=ProfileRead)
def dataset_profile(dataset_id: int, session: SessionDep, who: ProviderUser) -> ProfileRead:
    """What the latest upload held, column by column (yours alone: nobody else can read this)."""
    return datasets.profile(session, who, dataset_id)


@router.get("/datasets/{dataset_id}/checks", response_model=FindingPage)
def dataset_checks(dataset_id: int, session: SessionDep, who: ProviderUser) -> FindingPage:
    """The working dictionary checked against the data: values outside bounds, keys that never occur,
    identifier-looking columns (身份证, mobile numbers) that are not identifiers."""
    found = datasets.checks(session, who, dataset_id)
    return FindingPage(items=found, total=len(found))


@router.put("/datasets/{dataset_id}/dictionary", response_model=Dictionary)
def put_dictionary(dataset_id: int, body: Dictionary, session: SessionDep, who: ProviderUser) -> Dictionary:
    """Write the data dictionary: each column's role, bounds for measures, public keys, the privacy unit."""
    return datasets.set_dictionary(session, who, dataset_id, body)


@router.post("/datasets/{dataset_id}/dictionary/keys", response_model=Dictionary)
def confirm_keys(dataset_id: int, body: KeysConfirm, session: SessionDep, who: ProviderUser) -> Dictionary:
    """Make values seen in the data a dimension's public keys, confirming they are public knowledge."""
    return datasets.confirm_keys(session, who, dataset_id, body)


@router.post("/listings", status_code=201, response_model=ListingRead)
def create_listing(body: ListingCreate, session: SessionDep, who: ProviderUser) -> ListingRead:
    """Draft a listing with its offers and proposed grade."""
    return listings.create(session, who, body)


@router.get("/listings", response_model=ListingPage)
def list_listings(session: SessionDep, who: ListingStaff, status: str | None = None, queue: bool = False,
                  limit: Limit = 50, offset: Offset = 0) -> ListingPage:
    """Providers: their own listings. Data office: every listing past draft; `queue=true` for those
    awaiting review (first submissions and revisions)."""
    return listings.list(session, who, status, queue, limit, offset)


@router.get("/listings/reason-codes", response_model=ReasonPage)
def reason_codes(action: str | None = None) -> ReasonPage:
    """The documented reason codes, each with the actions it fits."""
    items = [ReasonRead(code=r.code, actions=sorted(r.actions), en=r.en, zh=r.zh) for r in reasons.REASONS
             if action is None or action in r.actions]
    return ReasonPage(items=items, total=len(items))


@router.get("/listings/{listing_id}", response_model=ListingDetail)
def get_listing(listing_id: int, session: SessionDep, who: ListingStaff) -> ListingDetail:
    """A listing with what is under review (and what it changes), check flags, reviews and history."""
    return listings.detail(session, who, listing_id)


@router.patch("/listings/{listing_id}", response_model=ListingRead)
def update_listing(listing_id: int, body: ListingUpdate, session: SessionDep, who: ProviderUser) -> ListingRead:
    """Edit a draft, or a listing the data office sent back for changes (409 in any other state)."""
    return listings.update(session, who, listing_id, body)


@router.post("/listings/{listing_id}/submit", response_model=ListingRead)
def submit_listing(listing_id: int, session: SessionDep, who: ProviderUser) -> ListingRead:
    """Send a draft to the data office; on a live listing, submit the dataset's latest version."""
    return listings.submit(session, who, listing_id)


@router.post("/listings/{listing_id}/offers", response_model=ListingRead)
def add_offer(listing_id: int, body: OfferCreate, session: SessionDep, who: ProviderUser) -> ListingRead:
    """Add an offer (within the ceiling price and the permitted scenarios)."""
    return listings.add_offer(session, who, listing_id, body)


@router.post("/listings/{listing_id}/review", response_model=ListingRead)
def review_listing(listing_id: int, body: ReviewCreate, session: SessionDep, who: DataOffice) -> ListingRead:
    """Approve (with the final grade), reject, or request changes. Core data can never be published."""
    return listings.review(session, who, listing_id, body)


@router.post("/listings/{listing_id}/transition", response_model=ListingRead)
def transition_listing(listing_id: int, body: TransitionCreate, session: SessionDep,
                       who: ListingStaff) -> ListingRead:
    """Suspend / resume (data office), pause / resume ordering, or retire, with a reason code."""
    return listings.transition(session, who, listing_id, body)


@router.post("/listings/{listing_id}/grade", response_model=ListingRead)
def change_grade(listing_id: int, body: GradeChange, session: SessionDep, who: DataOffice) -> ListingRead:
    """Raise the grade (tighter DP policy at once) or open a fresh review to lower it."""
    return listings.change_grade(session, who, listing_id, body)


@router.get("/catalog", response_model=ListingPage)
def catalog(
    session: SessionDep, q: str | None = None, sector: str | None = None, grade: str | None = None,
    scenario: Literal["public_governance", "public_welfare", "industry"] | None = None, provider: str | None = None,
    provider_id: int | None = None, min_price_minor: Annotated[int | None, Query(ge=0)] = None,
    max_price_minor: Annotated[int | None, Query(ge=0)] = None,
    sort: Literal["relevance", "newest", "title", "price_asc", "price_desc"] = "relevance",
    limit: Limit = 50, offset: Offset = 0,
) -> ListingPage:
    """Published listings (public metadata only). `q` searches titles, descriptions, keywords, providers and
    column descriptions in Chinese and English, ranked; prices filter on the cheapest active offer."""
    return listings.catalog(session, q, sector, grade, limit, offset, scenario=scenario, provider=provider,
                            provider_id=provider_id, min_price_minor=min_price_minor,
                            max_price_minor=max_price_minor, sort=sort)


@router.get("/catalog.jsonld", responses={200: {"content": {"application/ld+json": {"schema": {"type": "object"}}}}})
def catalog_jsonld(session: SessionDep) -> JSONResponse:
    """The catalog as DCAT-AP JSON-LD: every published listing as a `dcat:Dataset`."""
    body: dict[str, Any] = catalog_service.dcat(session, get_settings().base_url)
    return JSONResponse(body, media_type="application/ld+json")


@router.get("/catalog/{listing_id}", response_model=CatalogEntry)
def catalog_entry(listing_id: int, session: SessionDep) -> CatalogEntry:
    """One published listing with the public parts of its data dictionary, offers and DP policy."""
    return listings.catalog_entry(session, listing_id)


@router.get("/catalog/{listing_id}/preview", response_model=PreviewRead)
def catalog_preview(listing_id: int, session: SessionDep,
                    rows: Annotated[int, Query(ge=1, le=100)] = 10) -> PreviewRead:
    """Synthetic rows generated from the public dictionary only (never from the data), to write queries."""
    return listings.preview(session, listing_id, rows)


@router.get("/registrations", response_model=RegistrationPage)
def list_registrations(session: SessionDep, listing_id: int | None = None, limit: Limit = 50,
                       offset: Offset = 0) -> RegistrationPage:
    """Registration records (登记) of data products, newest first."""
    return registrations.list(session, listing_id, limit, offset)


@router.get("/registrations/export.json", response_model=RegistrationExport)
def export_registrations(session: SessionDep) -> RegistrationExport:
    """Every registration record with its events (format `shuyu-registrations/1`), for other platforms."""
    return registrations.export(session)


@router.get("/registrations/{code}", response_model=RegistrationRead)
def get_registration(code: str, session: SessionDep) -> RegistrationRead:
    """One registration record with its events (initial, change, correction, cancellation)."""
    return registrations.get(session, code)


@router.post("/registrations/{code}/corrections", response_model=RegistrationRead)
def correct_registration(code: str, body: CorrectionCreate, session: SessionDep,
                         who: DataOffice) -> RegistrationRead:
    """Correct wrong registered information; the correction and its note are public."""
    return registrations.correct(session, who, code, body)


@router.get("/fees", response_model=FeeSchedule)
def fee_schedule(session: SessionDep) -> FeeSchedule:
    """The public fee schedule (收费公示): every offer on sale with its scenario, price, ceiling, term, ε budget
    and query quota. Public-welfare and public-governance offers are free."""
    return catalog_service.fee_schedule(session)


@router.post("/complaints", status_code=201, response_model=ComplaintFiled)
def file_complaint(body: ComplaintCreate, session: SessionDep, who: MaybeUser) -> ComplaintFiled:
    """File a complaint against a product (`listing_id`) or an objection to a registration
    (`registration_code`). Anyone may; keep the `tracking_code` to read the reply."""
    return complaints.file(session, who, body)


@router.get("/complaints/track/{tracking_code}", response_model=ComplaintStatus)
def track_complaint(tracking_code: Annotated[str, PathParam(max_length=64)], session: SessionDep) -> ComplaintStatus:
    """The status and reply of a complaint, for whoever holds its tracking code."""
    return complaints.track(session, tracking_code)


@router.get("/complaints", response_model=ComplaintPage)
def list_complaints(session: SessionDep, who: DataOffice, status: Literal["open", "handled"] | None = None,
                    limit: Limit = 50, offset: Offset = 0) -> ComplaintPage:
    """Every complaint and objection, newest first, with the filer's contact."""
    return complaints.list(session, status, limit, offset)


@router.get("/complaints/{complaint_id}", response_model=ComplaintRead)
def get_complaint(complaint_id: Annotated[int, PathParam(ge=1, le=2**62)], session: SessionDep,
                  who: DataOffice) -> ComplaintRead:
    """One complaint or objection."""
    return complaints.get(session, complaint_id)


@router.post("/complaints/{complaint_id}/handle", response_model=ComplaintRead)
def handle_complaint(complaint_id: Annotated[int, PathParam(ge=1, le=2**62)], body: ComplaintHandle,
                     session: SessionDep, who: DataOffice) -> ComplaintRead:
    """Decide a complaint once (upheld or dismissed) with a reason code and a reply the filer reads."""
    return complaints.handle(session, who, complaint_id, body)


@router.post("/listings/{listing_id}/security-reviews", status_code=201, response_model=SecurityReviewRead)
def add_security_review(listing_id: Annotated[int, PathParam(ge=1, le=2**62)], body: SecurityReviewCreate,
                        session: SessionDep, who: DataOffice) -> SecurityReviewRead:
    """Record a data security review (数据安全审查) of the version the listing publishes or proposes. Important
    data is published only on a version whose latest review passed."""
    return security_reviews.add(session, who, listing_id, body)


@router.get("/listings/{listing_id}/security-reviews", response_model=SecurityReviewPage)
def list_security_reviews(listing_id: Annotated[int, PathParam(ge=1, le=2**62)], session: SessionDep,
                          who: DataOffice) -> SecurityReviewPage:
    """Every data security review of the listing's versions, newest first."""
    return security_reviews.list(session, listing_id)
