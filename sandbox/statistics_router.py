"""Open statistics routes: the data office prices and publishes a set of DP tables; anyone reads and downloads them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from core.auth import DataOffice, SessionDep
from core.db import unit_of_work
from sandbox import jobs
from sandbox.schemas import OpenStatisticCreate, OpenStatisticPage, OpenStatisticPreview, OpenStatisticRead
from sandbox.service import sync_limit
from sandbox.statistics import open_statistics

router = APIRouter(tags=["open statistics"])


@router.post("/listings/{listing_id}/open-statistics/preview", response_model=OpenStatisticPreview)
def preview_open_statistics(listing_id: int, body: OpenStatisticCreate, session: SessionDep,
                            who: DataOffice) -> OpenStatisticPreview:
    """What publishing these tables would cost on the dataset's global ε budget, and each one's ±; runs and
    charges nothing."""
    return open_statistics.preview(session, listing_id, body)


@router.post("/listings/{listing_id}/open-statistics", status_code=201, response_model=OpenStatisticRead)
async def publish_open_statistics(listing_id: int, body: OpenStatisticCreate, session: SessionDep,
                                  who: DataOffice) -> OpenStatisticRead:
    """Publish DP tables of a listing free to everyone (数据社会化): the whole set is charged once to the
    dataset's global budget (409 `budget-exhausted` when it cannot cover it, nothing charged), then each
    query runs in the sandbox like a licensee's. Answers once the tables are released (or the time limit
    passes: `status` says `running`)."""
    statistic_id, run_ids = await run_in_threadpool(open_statistics.publish, session, who, listing_id, body)
    await jobs.wait_all_async(run_ids, sync_limit())
    return await run_in_threadpool(_office_read, statistic_id)


def _office_read(statistic_id: int) -> OpenStatisticRead:
    with unit_of_work() as session:
        return open_statistics.get(session, statistic_id, public=False)


@router.get("/listings/{listing_id}/open-statistics", response_model=OpenStatisticPage)
def office_open_statistics(listing_id: int, session: SessionDep, who: DataOffice,
                           limit: Annotated[int, Query(ge=1, le=200)] = 50,
                           offset: Annotated[int, Query(ge=0)] = 0) -> OpenStatisticPage:
    """Every open statistic of a listing with each table's job status (the data office's view)."""
    return open_statistics.list(session, listing_id, limit, offset, public=False)


@router.get("/open-statistics", response_model=OpenStatisticPage)
def list_open_statistics(session: SessionDep, listing_id: int | None = None,
                         limit: Annotated[int, Query(ge=1, le=200)] = 50,
                         offset: Annotated[int, Query(ge=0)] = 0) -> OpenStatisticPage:
    """Open statistics anyone may read without a licence, newest first: released tables only."""
    return open_statistics.list(session, listing_id, limit, offset)


@router.get("/open-statistics/{statistic_id}", response_model=OpenStatisticRead)
def get_open_statistic(statistic_id: int, session: SessionDep) -> OpenStatisticRead:
    """One open statistic: its released tables, each value with its ± at 95%, and each table's signed receipt."""
    return open_statistics.get(session, statistic_id)


@router.get("/open-statistics/{statistic_id}/tables/{table_id}/csv",
            responses={200: {"content": {"text/csv": {}}}})
def open_table_csv(statistic_id: int, table_id: int, session: SessionDep) -> Response:
    """A released table as CSV: a `±` column beside each value, the signed receipt in `# key,value` lines first."""
    content = open_statistics.csv(session, statistic_id, table_id)
    return Response(content, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="shuyu-open-statistic-{statistic_id}-{table_id}.csv"'})


@router.get("/open-statistics/{statistic_id}/tables/{table_id}/receipt")
def open_table_receipt(statistic_id: int, table_id: int, session: SessionDep) -> dict[str, Any]:
    """A released table's values and signed receipt, in the shape `shuyu receipts verify` reads."""
    _, table = open_statistics.table(session, statistic_id, table_id)
    assert table.receipt is not None
    return {"columns": table.columns, "rows": table.rows, "receipt": table.receipt.model_dump()}
