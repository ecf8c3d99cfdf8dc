"""Market routes: datasets, dictionaries, listings, review, and the public catalog."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile

from core.auth import DataOffice, ProviderUser, SessionDep
from core.config import get_settings
from core.errors import DomainError
from market.schemas import CatalogEntry, DatasetRead, Dictionary, ListingCreate, ListingPage, ListingRead, ReviewCreate
from market.service import datasets, listings

router = APIRouter(tags=["market"])


class UploadTooLarge(DomainError):
    status = 413
    type = "upload-too-large"
    title = "The file is too large"


@router.post("/datasets", status_code=201, response_model=DatasetRead)
async def upload_dataset(
    request: Request, session: SessionDep, who: ProviderUser, file: Annotated[UploadFile, File()],
    name: Annotated[str, Form()], encoding: Annotated[str | None, Form()] = None,
) -> DatasetRead:
    """Upload a CSV (UTF-8 or GBK/GB18030) or Parquet file; it is encrypted before it is written.

    Uploading the same `name` again makes a new version of that dataset."""
    limit = get_settings().max_upload_mb * 1024 * 1024
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise UploadTooLarge(f"Files up to {get_settings().max_upload_mb} MB are accepted; split or compress it")
    return datasets.upload(session, who, name, file.filename or "", data, encoding)


@router.put("/datasets/{dataset_id}/dictionary", response_model=Dictionary)
def put_dictionary(dataset_id: int, body: Dictionary, session: SessionDep, who: ProviderUser) -> Dictionary:
    """Write the data dictionary: each column's role, bounds for measures, public keys, the privacy unit."""
    return datasets.set_dictionary(session, who, dataset_id, body)


@router.post("/listings", status_code=201, response_model=ListingRead)
def create_listing(body: ListingCreate, session: SessionDep, who: ProviderUser) -> ListingRead:
    """Draft a listing with its offers and proposed grade."""
    return listings.create(session, who, body)


@router.post("/listings/{listing_id}/submit", response_model=ListingRead)
def submit_listing(listing_id: int, session: SessionDep, who: ProviderUser) -> ListingRead:
    """Send a draft to the data office for review."""
    return listings.submit(session, who, listing_id)


@router.post("/listings/{listing_id}/review", response_model=ListingRead)
def review_listing(listing_id: int, body: ReviewCreate, session: SessionDep, who: DataOffice) -> ListingRead:
    """Approve (with the final grade), reject, or request changes. Core data can never be published."""
    return listings.review(session, who, listing_id, body)


@router.get("/catalog", response_model=ListingPage)
def catalog(
    session: SessionDep, q: str | None = None, sector: str | None = None, grade: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50, offset: Annotated[int, Query(ge=0)] = 0,
) -> ListingPage:
    """Published listings (public metadata only)."""
    return listings.catalog(session, q, sector, grade, limit, offset)


@router.get("/catalog/{listing_id}", response_model=CatalogEntry)
def catalog_entry(listing_id: int, session: SessionDep) -> CatalogEntry:
    """One published listing with the public parts of its data dictionary, offers and DP policy."""
    return listings.catalog_entry(session, listing_id)
