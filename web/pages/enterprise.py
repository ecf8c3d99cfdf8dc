"""Enterprise pages: my licences, apply, pay by bank transfer, the query console, results and receipts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from core.auth import Principal
from core.errors import DomainError, NotFound
from licensing.schemas import CheckoutCreate, LicenseCreate, LicenseRead, LicenseRenew
from licensing.service import license_service, payments, query_fees
from licensing.stripe.client import configured as stripe_configured
from market.schemas import CatalogEntry
from market.service import listings
from market.service.versions import published_since
from sandbox import jobs
from sandbox.exports import exports
from sandbox.saved import saved_queries
from sandbox.schemas import QueryCreate, QueryResult, QueryStatus, SavedQueryCreate, SavedQueryRun
from sandbox.service import queries, sync_limit
from sandbox.templates import TemplateUse, templates
from web import i18n
from web.forms import validated
from web.pages.render import attempt, redirect, render
from web.session import EnterprisePage, PageSession, check_csrf

router = APIRouter(prefix="/enterprise", include_in_schema=False, dependencies=[Depends(check_csrf)])


def _entry(session: Session, listing_id: int) -> CatalogEntry | None:
    """The listing a licence is for, as the catalog shows it (None once it is no longer published)."""
    try:
        return listings.catalog_entry(session, listing_id)
    except NotFound:
        return None


@router.get("", response_class=HTMLResponse)
def my_licences(request: Request, session: PageSession, who: EnterprisePage) -> Response:
    """Every licence of the enterprise with its status, term, ε gauge and quota."""
    page = license_service.list(session, who, None, 200, 0)
    titles = {lic.listing_id: _entry(session, lic.listing_id) for lic in page.items}
    return render(request, "enterprise/licences.html", {"page": page, "entries": titles,
                                                        "welcome": request.query_params.get("welcome")})


@router.post("/licences", response_class=HTMLResponse)
def apply(request: Request, session: PageSession, who: EnterprisePage, listing_id: Annotated[int, Form()],
          offer_id: Annotated[int, Form()], purpose: Annotated[str, Form()] = "",
          evidence: Annotated[str, Form()] = "") -> Response:
    """Apply for a licence on one offer of a listing."""
    body = validated(LicenseCreate, {"listing_id": listing_id, "offer_id": offer_id, "purpose": purpose,
                                     "evidence": evidence})
    done = body if isinstance(body, DomainError) else attempt(session, partial(license_service.apply, session, who,
                                                                               body))
    if isinstance(done, DomainError):
        entry = listings.catalog_entry(session, listing_id)
        return render(request, "public/listing.html", {"entry": entry, "error": done, "purpose": purpose,
                                                       "evidence": evidence},
                      status=done.status)
    return redirect(f"/enterprise/licences/{done.id}?applied=1")


@router.get("/licences/{license_id}", response_class=HTMLResponse)
def licence_page(request: Request, license_id: int, session: PageSession, who: EnterprisePage) -> Response:
    """One licence: what to do next (wait, pay, or query) and its recent queries."""
    licence = license_service.get(session, who, license_id)
    history = queries.history(session, who, license_id, 20, 0)
    entry = _entry(session, licence.listing_id)
    # Versions published after the licence was taken: the licensee's notice of new data.
    updates = published_since(entry.versions, licence.created_at) if entry else []
    return render(request, "enterprise/licence.html", {
        "lic": licence, "entry": entry, "history": history, "updates": updates,
        "card_payments": stripe_configured(), "payment": request.query_params.get("payment"),
        "transfer": payments.pending_transfer(session, who, license_id) if licence.status == "awaiting_payment"
        else None, "applied": request.query_params.get("applied"),
        "query_fees": query_fees.accrued(session, who, license_id) if licence.price_per_query_minor else None})


@router.get("/licences/{license_id}/notice", response_class=HTMLResponse)
def payment_notice(request: Request, license_id: int, session: PageSession, who: EnterprisePage) -> Response:
    """The payment notice (缴款通知) of a bank transfer still awaited: printable, for the payer's own finance."""
    licence = license_service.get(session, who, license_id)
    transfer = payments.pending_transfer(session, who, license_id)
    if transfer is None:
        raise NotFound(f"Licence {license_id} has no bank transfer waiting",
                       zh=f"许可 {license_id} 没有待付款的银行转账")
    return render(request, "enterprise/notice.html", {"lic": licence, "pay": transfer,
                                                      "capital": i18n.rmb_capital(transfer.amount_minor
                                                                                  - transfer.received_minor)})


@router.post("/licences/{license_id}/checkout", response_class=HTMLResponse)
def checkout(request: Request, license_id: int, session: PageSession, who: EnterprisePage,
             method: Annotated[Literal["bank_transfer", "stripe"], Form()] = "bank_transfer") -> Response:
    """Pay: bank transfer shows the reference and account (asking again gives the same reference); card payment
    sends the payer to Stripe Checkout."""
    paid = payments.checkout(session, who, license_id, CheckoutCreate(method=method))
    return render(request, "enterprise/checkout.html", {"pay": paid, "license_id": license_id})


@router.post("/licences/{license_id}/renew", response_class=HTMLResponse)
def renew(request: Request, license_id: int, session: PageSession, who: EnterprisePage) -> Response:
    """A new licence on the same offer, with a new term and budget."""
    renewed = license_service.renew(session, who, license_id, LicenseRenew())
    return redirect(f"/enterprise/licences/{renewed.id}")


def _console(request: Request, session: PageSession, who: Principal, licence: LicenseRead,
             extra: dict[str, Any], status: int = 200) -> Response:
    entry = _entry(session, licence.listing_id)
    if entry is None:
        raise NotFound(f"The listing of licence {licence.id} is no longer published")
    context = {"lic": licence, "entry": entry, "sql": f"SELECT COUNT(*) AS n FROM {entry.dataset_name}",
               "epsilon": entry.dp_policy.epsilon_for(None),
               "history": queries.history(session, who, licence.id, 10, 0),
               "templates": templates.of_listing(session, who, licence.listing_id), "template_values": {},
               "keys_of": {c.name: list(c.keys or []) for c in (entry.dictionary.columns if entry.dictionary else [])},
               **extra}
    return render(request, "enterprise/console.html", context, status=status)


@router.get("/licences/{license_id}/console", response_class=HTMLResponse)
def console(request: Request, license_id: int, session: PageSession, who: EnterprisePage,
            sql: str | None = None, epsilon: float | None = None) -> Response:
    """The SQL editor with the dataset's columns beside it."""
    licence = license_service.get(session, who, license_id)
    extra: dict[str, Any] = {k: v for k, v in (("sql", sql), ("epsilon", epsilon)) if v}
    return _console(request, session, who, licence, extra)


def _query_body(license_id: int, sql: str, epsilon: str) -> QueryCreate | DomainError:
    return validated(QueryCreate, {"license_id": license_id, "sql": sql, "epsilon": epsilon.strip() or None})


@router.post("/licences/{license_id}/preview", response_class=HTMLResponse)
def preview(request: Request, license_id: int, session: PageSession, who: EnterprisePage,
            sql: Annotated[str, Form()], epsilon: Annotated[str, Form()] = "") -> Response:
    """What the query would cost and how accurate it would be (htmx fragment); nothing runs."""
    body = _query_body(license_id, sql, epsilon)
    shown = body if isinstance(body, DomainError) else attempt(session, partial(queries.preview, session, who, body))
    status = shown.status if isinstance(shown, DomainError) else 200
    return render(request, "enterprise/_preview.html", {"preview": shown}, status=status)


@router.post("/licences/{license_id}/queries", response_class=HTMLResponse)
async def run(request: Request, license_id: int, session: PageSession, who: EnterprisePage,
              sql: Annotated[str, Form()], epsilon: Annotated[str, Form()] = "") -> Response:
    """Run the query in the sandbox; show the refusal in the console if it is not allowed."""
    body = _query_body(license_id, sql, epsilon)
    done = body if isinstance(body, DomainError) else await _released(session, who, body)
    if isinstance(done, DomainError):
        licence = await run_in_threadpool(license_service.get, session, who, license_id)
        return await run_in_threadpool(_console, request, session, who, licence,
                                       {"sql": sql, "epsilon": epsilon, "error": done}, done.status)
    return done


async def _released(session: Session, who: Principal, body: QueryCreate,
                    template: TemplateUse | None = None) -> Response | DomainError:
    """Submit a query and wait for it on the event loop: a long query holds no thread and no connection (a
    sync page would hold one of the few threadpool threads that every other page needs). Where to go next:
    the result, or its own page when it outlasts the time limit; or the refusal to show."""
    try:
        submitted = await run_in_threadpool(queries.submit, session, who, body, template)
        done = submitted.result
        if done is None:
            status = await jobs.wait_async(submitted.run_id, sync_limit())
            done = await run_in_threadpool(queries.outcome, who, submitted.run_id, status)
    except DomainError as exc:
        await run_in_threadpool(session.rollback)
        return exc
    if done is None:  # past the time limit: follow it on its own page
        return redirect(f"/enterprise/queries/{submitted.run_id}")
    return redirect(f"/enterprise/queries/{done.id}" + ("?cached=1" if done.cached else ""))


@router.get("/queries/{query_id}", response_class=HTMLResponse)
def result_page(request: Request, query_id: int, session: PageSession, who: EnterprisePage) -> Response:
    """A released result: the table with ±, a bar chart with error bars, the budget, the receipt.

    A query still queued or running shows its progress instead (polled by htmx), with a cancel button."""
    shown = queries.status(session, who, query_id)
    if isinstance(shown, QueryStatus):
        return render(request, "enterprise/pending.html", {"job": shown})
    result = shown
    licence = license_service.get(session, who, result.license_id)
    return render(request, "enterprise/result.html", {
        "result": result, "lic": licence, "charts": chart_series(result), "entry": _entry(session, licence.listing_id),
        "cached": request.query_params.get("cached") == "1"})


@router.get("/queries/{query_id}/progress", response_class=HTMLResponse)
def progress(request: Request, query_id: int, session: PageSession, who: EnterprisePage) -> Response:
    """Where a query stands (htmx fragment); once released, htmx is sent on to the result."""
    shown = queries.status(session, who, query_id)
    if not isinstance(shown, QueryStatus):
        return Response(status_code=204, headers={"HX-Redirect": f"/enterprise/queries/{query_id}"})
    ended = shown.status not in ("queued", "running")
    return render(request, "enterprise/_progress.html", {"job": shown}, status=286 if ended else 200)  # 286: stop


@router.post("/queries/{query_id}/cancel", response_class=HTMLResponse)
def cancel(request: Request, query_id: int, session: PageSession, who: EnterprisePage) -> Response:
    """Cancel a query that has not started (its ε comes back); one already running is said so."""
    done = attempt(session, partial(queries.cancel, session, who, query_id))
    if isinstance(done, DomainError):
        job = queries.status(session, who, query_id)
        return render(request, "enterprise/pending.html", {"job": job, "error": done}, status=done.status)
    return redirect(f"/enterprise/queries/{query_id}")


@router.get("/queries/{query_id}/receipt.json")
def receipt(query_id: int, session: PageSession, who: EnterprisePage) -> Response:
    """The whole result with its signed receipt, as a file `shuyu receipts verify` checks offline."""
    result = queries.get(session, who, query_id)
    body = json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2)
    return Response(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="shuyu-query-{query_id}-receipt.json"'})


@router.post("/licences/{license_id}/saved", response_class=HTMLResponse)
def save(request: Request, license_id: int, session: PageSession, who: EnterprisePage,
         sql: Annotated[str, Form()], name: Annotated[str, Form()] = "",
         epsilon: Annotated[str, Form()] = "") -> Response:
    """Save the console's query by name; the refusal (a taken name) shows in the console."""
    body = validated(SavedQueryCreate, {"license_id": license_id, "sql": sql, "name": name.strip(),
                                        "epsilon": epsilon.strip() or None})
    done = body if isinstance(body, DomainError) else attempt(session, partial(saved_queries.save, session, who,
                                                                               body))
    if isinstance(done, DomainError):
        licence = license_service.get(session, who, license_id)
        return _console(request, session, who, licence, {"sql": sql, "epsilon": epsilon, "error": done},
                        status=done.status)
    return redirect(f"/enterprise/saved?saved={done.id}")


@router.get("/saved", response_class=HTMLResponse)
def saved_page(request: Request, session: PageSession, who: EnterprisePage, q: str = "", hq: str = "") -> Response:
    """Saved queries (search by name or SQL, rerun, forget) and the searchable query history."""
    return render(request, "enterprise/saved.html", {
        "saved": saved_queries.list(session, who, q, 200, 0), "q": q, "hq": hq,
        "history": saved_queries.history(session, who, hq, None, 50, 0),
        "just_saved": request.query_params.get("saved")})


@router.post("/saved/{saved_id}/run", response_class=HTMLResponse)
async def rerun(request: Request, saved_id: int, session: PageSession, who: EnterprisePage) -> Response:
    """Rerun a saved query (a stored answer costs nothing); a refusal shows on the saved-queries page."""
    asked = await run_in_threadpool(attempt, session, partial(saved_queries.query_for, session, who, saved_id,
                                                              SavedQueryRun()))
    done = asked if isinstance(asked, DomainError) else await _released(session, who, asked)
    if isinstance(done, DomainError):
        return await run_in_threadpool(_saved_page, request, session, who, done)
    return done


def _saved_page(request: Request, session: Session, who: Principal, error: DomainError) -> Response:
    return render(request, "enterprise/saved.html", {
        "saved": saved_queries.list(session, who, "", 200, 0), "q": "", "hq": "", "error": error,
        "history": saved_queries.history(session, who, "", None, 50, 0)}, status=error.status)


@router.post("/saved/{saved_id}/delete", response_class=HTMLResponse)
def forget(saved_id: int, session: PageSession, who: EnterprisePage) -> Response:
    """Forget a saved query; its results stay in the history."""
    saved_queries.delete(session, who, saved_id)
    return redirect("/enterprise/saved")


@router.get("/queries/{query_id}/export.{fmt}")
def export(query_id: int, fmt: Literal["csv", "xlsx"], session: PageSession, who: EnterprisePage) -> Response:
    """The result as CSV or Excel, with ± columns and the receipt (same file as the API's export)."""
    done = exports.export(session, who, query_id, fmt)
    return Response(done.content, media_type=done.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{done.filename}"'})


@dataclass(frozen=True)
class Series:
    name: str
    labels: list[str]
    values: list[float]
    errors: list[float | None]


def chart_series(result: QueryResult, limit: int = 4) -> list[Series]:
    """One chart per released aggregate: the bars are the groups, the whiskers the ± at 95%."""
    measures = [c for c in result.columns if c in result.accuracy]
    groups = [i for i, c in enumerate(result.columns) if c not in result.accuracy]
    labels = [" · ".join(str(row[i]) for i in groups) or "" for row in result.rows]
    series = []
    for name in measures[:limit]:
        index = result.columns.index(name)
        values = [row[index] for row in result.rows]
        if not all(isinstance(v, int | float) for v in values):
            continue
        series.append(Series(name, [label or name for label in labels], values,
                             [result.accuracy[name].plus_minus] * len(values)))
    return series
