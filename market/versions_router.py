"""Routes for version quality: each version's quality report, for its provider and the data office."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from core.auth import SessionDep
from market.deps import ListingStaff
from market.schemas import QualityReport
from market.service.versions import versions

router = APIRouter(tags=["market"])


@router.get("/datasets/{dataset_id}/quality", response_model=QualityReport)
def quality_report(dataset_id: int, session: SessionDep, who: ListingStaff,
                   version: Annotated[int | None, Query(ge=1)] = None) -> QualityReport:
    """A version's data quality (the latest by default): completeness per column, values outside the
    bounds, public keys never seen in the data, rows per privacy unit. Aggregate counts only."""
    return versions.quality(session, who, dataset_id, version)
