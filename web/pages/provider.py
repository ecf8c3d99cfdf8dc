"""Provider pages: upload (with a progress bar), the dictionary editor, drafting and submitting a listing."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import FormData

from core.auth import Principal
from core.config import get_settings
from core.errors import DomainError, InvalidInput
from licensing.disclosure import disclosures
from market import contributions
from market import unit as privacy_unit
from market.intake import read_upload
from market.schemas import Dictionary, KeysConfirm, ListingCreate, ListingDetail, ListingRead, ListingUpdate, ReviewRead
from market.service import datasets, listings
from market.service.versions import versions
from web import i18n
from web.forms import built, minor_units, number, split_list, validated
from web.pages.render import attempt, redirect, render
from web.session import PageSession, ProviderPage, check_csrf

router = APIRouter(prefix="/provider", include_in_schema=False, dependencies=[Depends(check_csrf)])
GRADES = ("general", "important")  # core data is never listed, so it is not offered
CYCLES = ("realtime", "daily", "weekly", "monthly", "quarterly", "yearly", "once")


def requested_changes(detail: ListingDetail) -> ReviewRead | None:
    """The office's latest request for changes, while the listing waits for them."""
    if detail.status != "changes_requested":
        return None
    return next((r for r in reversed(detail.reviews) if r.decision == "request_changes"), None)


def _home(request: Request, session: PageSession, who: Principal, extra: dict[str, Any], status: int = 200) -> Response:
    return render(request, "provider/home.html", {
        "max_mb": get_settings().max_upload_mb, "datasets": datasets.list(session, who, 200, 0),
        "listings": listings.list(session, who, None, False, 200, 0), "usage": disclosures.usage(session, who),
        **extra}, status=status)


@router.get("", response_class=HTMLResponse)
def home(request: Request, session: PageSession, who: ProviderPage) -> Response:
    """The upload form, the provider's datasets and its listings with their review state."""
    return _home(request, session, who, {})


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@router.post("/datasets", response_class=HTMLResponse)
async def upload(request: Request, session: PageSession, who: ProviderPage) -> Response:
    """Upload a file; the browser's script shows progress and follows the answer's `redirect`."""
    try:
        form = await read_upload(request)
    except DomainError as exc:
        if _wants_json(request):
            return JSONResponse({"error": exc.detail, "title": exc.title}, status_code=exc.status)
        raise
    name = form.fields["name"]

    def store() -> Any:
        return datasets.upload(session, who, name, form.filename, form.data, form.fields.get("encoding") or None,
                               (form.fields.get("missing_values") or "").strip() or None,
                               form.fields.get("changelog") or "")

    done = attempt(session, store)
    if isinstance(done, DomainError):
        if _wants_json(request):
            zh = i18n.chosen(request.cookies.get(i18n.LANG_COOKIE), request.headers.get("accept-language")) == "zh-CN"
            return JSONResponse({"error": done.sentence_zh if zh else done.detail,
                                 "title": i18n.translate("zh-CN" if zh else "en", done.title)},
                                status_code=done.status)
        return _home(request, session, who, {"error": done, "name": name}, status=done.status)
    target = f"/provider/datasets/{done.id}"
    return JSONResponse({"redirect": target}) if _wants_json(request) else redirect(target)


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset_page(request: Request, dataset_id: int, session: PageSession, who: ProviderPage) -> Response:
    """The dataset's columns and the dictionary editor."""
    _, version = datasets.own_dataset(session, who, dataset_id)
    return _dataset(request, session, who, dataset_id, _editor_rows(version.columns, version.dictionary),
                    (version.dictionary or {}).get("privacy_unit") or {}, {"saved": request.query_params.get("saved")})


def _described(dictionary: dict[str, Any] | None) -> tuple[str, str] | None:
    """The unit sentence of the saved dictionary, as the catalog will show it."""
    return privacy_unit.describe(Dictionary.model_validate(dictionary)) if dictionary else None


def _dataset(request: Request, session: PageSession, who: Principal, dataset_id: int, rows: list[dict[str, Any]],
             unit: dict[str, Any], extra: dict[str, Any], status: int = 200) -> Response:
    dataset, version = datasets.own_dataset(session, who, dataset_id)
    read = datasets.profile(session, who, dataset_id)
    profile = {c.name: c for c in read.columns}
    facts = {k: (version.dictionary or {}).get(k) for k in ("row_label_zh", "row_label_en", "row_bound")}
    return render(request, "provider/dataset.html", {
        "dataset": dataset, "version": version, "rows": rows, "unit": unit, "profile": profile,
        "per_person": read.per_person, "table_facts": facts, "described": _described(version.dictionary),
        "default_row_bound": privacy_unit.DEFAULT_ROW_BOUND, "min_key_rows": contributions.MIN_KEY_ROWS,
        "min_key_persons": contributions.MIN_KEY_PERSONS,
        "findings": datasets.checks(session, who, dataset_id), "detail": datasets.detail(session, who, dataset_id),
        **extra}, status=status)


def _editor_rows(columns: list[dict[str, Any]], dictionary: dict[str, Any] | None) -> list[dict[str, Any]]:
    described = {c["name"]: c for c in (dictionary or {}).get("columns", [])}
    rows = []
    for column in columns:
        entry = described.get(column["name"], {})
        bounds = entry.get("period") or entry.get("bounds") or ["", ""]
        rows.append({**column, "role": entry.get("time") or entry.get("role", "excluded" if dictionary else ""),
                     "lo": _typed_number(bounds[0]), "hi": _typed_number(bounds[1]),
                     "keys": ", ".join(str(k) for k in entry.get("keys") or []),
                     "description": entry.get("description", "")})
    return rows


def _typed_number(value: Any) -> str:
    return i18n.plain(value) if isinstance(value, int | float) else str(value)


@router.post("/datasets/{dataset_id}/dictionary", response_class=HTMLResponse)
async def save_dictionary(request: Request, dataset_id: int, session: PageSession, who: ProviderPage) -> Response:
    """Save the dictionary; the service checks it against the dataset's columns."""
    form = await request.form()
    _, version = datasets.own_dataset(session, who, dataset_id)
    dictionary = attempt(session, partial(_dictionary_from, form, version.columns))
    done = dictionary if isinstance(dictionary, DomainError) else attempt(
        session, partial(datasets.set_dictionary, session, who, dataset_id, dictionary))
    if isinstance(done, DomainError):
        submitted = _editor_rows(version.columns, _dictionary_echo(form, version.columns))
        return _dataset(request, session, who, dataset_id, submitted, _unit_from(form), {"error": done,
                        "table_facts": _rows_from(form)}, status=done.status)
    return redirect(f"/provider/datasets/{dataset_id}?saved=1")


@router.post("/datasets/{dataset_id}/keys", response_class=HTMLResponse)
def confirm_keys(request: Request, dataset_id: int, session: PageSession, who: ProviderPage,
                 column: Annotated[str, Form()], public_knowledge: Annotated[bool, Form()] = False) -> Response:
    """Make the values seen in a column its public keys, once the provider confirms they are public knowledge."""
    body = validated(KeysConfirm, {"column": column, "public_knowledge": public_knowledge})
    done = body if isinstance(body, DomainError) else attempt(
        session, partial(datasets.confirm_keys, session, who, dataset_id, body))
    if isinstance(done, DomainError):
        _, version = datasets.own_dataset(session, who, dataset_id)
        return _dataset(request, session, who, dataset_id, _editor_rows(version.columns, version.dictionary),
                        (version.dictionary or {}).get("privacy_unit") or {}, {"error": done}, status=done.status)
    return redirect(f"/provider/datasets/{dataset_id}?saved=1")


def _typed_key(text: str, dtype: str) -> str | int | bool:
    if dtype == "int":
        try:
            return int(text)
        except ValueError:
            raise InvalidInput(f"The key {text!r} is not a whole number, but the column holds whole numbers") from None
    if dtype == "bool":
        return text.lower() in ("true", "1", "yes", "是")
    return text


def _dictionary_echo(form: FormData, columns: list[dict[str, Any]]) -> dict[str, Any]:
    """What was typed, to show the form again as it was sent."""
    rows = []
    for i, column in enumerate(columns):
        rows.append({"name": column["name"], "role": str(form.get(f"role_{i}") or ""),
                     "bounds": [form.get(f"lo_{i}") or "", form.get(f"hi_{i}") or ""],
                     "keys": split_list(str(form.get(f"keys_{i}") or "")),
                     "description": str(form.get(f"desc_{i}") or "")})
    return {"columns": rows}


def _unit_from(form: FormData) -> dict[str, Any]:
    """The privacy unit as typed: its column, k, and what one unit is called."""
    return {"column": str(form.get("privacy_column") or "") or None,
            "max_contributions": str(form.get("max_contributions") or "1").strip() or "1",
            "label_zh": str(form.get("unit_label_zh") or "").strip(),
            "label_en": str(form.get("unit_label_en") or "").strip()}


def _rows_from(form: FormData) -> dict[str, Any]:
    """What one row is called, and the public bound on the number of rows (blank: the platform's default)."""
    bound = str(form.get("row_bound") or "").replace(",", "").strip()
    return {"row_label_zh": str(form.get("row_label_zh") or "").strip(),
            "row_label_en": str(form.get("row_label_en") or "").strip(), "row_bound": bound or None}


def _dictionary_from(form: FormData, columns: list[dict[str, Any]]) -> Dictionary:
    described = []
    for i, column in enumerate(columns):
        role = str(form.get(f"role_{i}") or "excluded")
        lo, hi = str(form.get(f"lo_{i}") or "").strip(), str(form.get(f"hi_{i}") or "").strip()
        if role in ("date", "datetime"):  # a dimension of dates: Low and High are its first and last value
            described.append({"name": column["name"], "role": "dimension", "time": role,
                              "description": str(form.get(f"desc_{i}") or ""),
                              **({"period": [lo, hi]} if lo or hi else {})})
            continue
        entry: dict[str, Any] = {"name": column["name"], "role": role, "description": str(form.get(f"desc_{i}") or "")}
        if role == "measure" and (lo or hi):
            entry["bounds"] = [number(lo, f"{column['name']} low"), number(hi, f"{column['name']} high")]
        keys = split_list(str(form.get(f"keys_{i}") or ""))
        if role == "dimension" and keys:
            entry["keys"] = [_typed_key(k, column["dtype"]) for k in keys]
        described.append(entry)
    return built(Dictionary, {"columns": described, "privacy_unit": _unit_from(form), **_rows_from(form)})


@router.get("/datasets/{dataset_id}/quality", response_class=HTMLResponse)
def quality_page(request: Request, dataset_id: int, session: PageSession, who: ProviderPage,
                 version: int | None = None) -> Response:
    """A version's quality report: completeness, values outside bounds, keys never seen, rows per unit."""
    report = versions.quality(session, who, dataset_id, version)
    history = datasets.detail(session, who, dataset_id).versions
    return render(request, "provider/quality.html", {"report": report, "versions": history})


@router.get("/datasets/{dataset_id}/listing", response_class=HTMLResponse)
def listing_form(request: Request, dataset_id: int, session: PageSession, who: ProviderPage) -> Response:
    """Draft a listing over a dataset whose dictionary is written."""
    return _form_page(request, session, who, dataset_id, {}, {})


def _offers_from(form: FormData) -> list[dict[str, Any]]:
    offers = []
    for n in (1, 2):
        name = str(form.get(f"offer{n}_name") or "").strip()
        if not name:
            continue
        offers.append({
            "name": name, "scenario": form.get(f"offer{n}_scenario"),
            "price_minor": minor_units(str(form.get(f"offer{n}_price") or "0"), f"Offer {n} price"),
            "price_per_query_minor": minor_units(str(form.get(f"offer{n}_price_per_query") or "0"),
                                                 f"Offer {n} price per query"),
            "currency": "CNY", "term_days": form.get(f"offer{n}_term_days"),
            "epsilon_budget": form.get(f"offer{n}_epsilon_budget"), "query_quota": form.get(f"offer{n}_query_quota"),
        })
    return offers


def _listing_fields(form: FormData) -> dict[str, Any]:
    return {
        "title": str(form.get("title") or "").strip(),
        "description": str(form.get("description") or ""), "keywords": split_list(str(form.get("keywords") or "")),
        "sector": str(form.get("sector") or "").strip(), "proposed_grade": form.get("proposed_grade"),
        "update_cycle": str(form.get("update_cycle") or "").strip(), "offers": _offers_from(form),
        "dp_policy": {"max_epsilon_per_query": form.get("max_epsilon_per_query") or 1.0,
                      "default_epsilon": form.get("default_epsilon") or None,
                      "min_group_size": form.get("min_group_size") or 0},
    }


def _listing_from(form: FormData, dataset_id: int) -> ListingCreate:
    return built(ListingCreate, {"dataset_id": dataset_id, **_listing_fields(form)})


def _update_from(form: FormData) -> ListingUpdate:
    return built(ListingUpdate, _listing_fields(form))


def _form_of(listing: ListingRead) -> dict[str, Any]:
    """A listing as the form's fields, to edit it."""
    policy = listing.dp_policy
    form: dict[str, Any] = {
        "title": listing.title, "description": listing.description, "keywords": ", ".join(listing.keywords),
        "sector": listing.sector, "update_cycle": listing.update_cycle, "proposed_grade": listing.proposed_grade,
        "max_epsilon_per_query": i18n.plain(policy.max_epsilon_per_query),
        "default_epsilon": i18n.plain(policy.default_epsilon) if policy.default_epsilon else "",
        "min_group_size": policy.min_group_size}
    for n, offer in enumerate([o for o in listing.offers if o.active][:2], 1):
        p = f"offer{n}_"
        form |= {p + "name": offer.name, p + "scenario": offer.scenario,
                 p + "price": i18n.plain(offer.price_minor / 100),
                 p + "price_per_query": i18n.plain(offer.price_per_query_minor / 100),
                 p + "term_days": offer.term_days, p + "epsilon_budget": i18n.plain(offer.epsilon_budget),
                 p + "query_quota": offer.query_quota}
    return form


def _form_page(request: Request, session: PageSession, who: Principal, dataset_id: int, form: dict[str, Any],
               extra: dict[str, Any], status: int = 200) -> Response:
    dataset, version = datasets.own_dataset(session, who, dataset_id)
    return render(request, "provider/listing_form.html", {
        "dataset": dataset, "version": version, "form": form, "grades": GRADES, "cycles": CYCLES,
        "action": f"/provider/datasets/{dataset_id}/listing", **extra}, status=status)


@router.post("/datasets/{dataset_id}/listing", response_class=HTMLResponse)
async def create_listing(request: Request, dataset_id: int, session: PageSession, who: ProviderPage) -> Response:
    """Create the draft; it is shown with its Submit button."""
    form = await request.form()
    body = attempt(session, partial(_listing_from, form, dataset_id))
    done = body if isinstance(body, DomainError) else attempt(session, partial(listings.create, session, who, body))
    if isinstance(done, DomainError):
        return _form_page(request, session, who, dataset_id, dict(form), {"error": done}, status=done.status)
    return redirect(f"/provider/listings/{done.id}")


@router.get("/listings/{listing_id}/edit", response_class=HTMLResponse)
def edit_form(request: Request, listing_id: int, session: PageSession, who: ProviderPage) -> Response:
    """The listing form filled with a draft (or a listing sent back), with the office's request above it."""
    detail = listings.detail(session, who, listing_id)
    return _form_page(request, session, who, detail.dataset_id, _form_of(detail), _edit_context(detail))


def _edit_context(detail: ListingDetail) -> dict[str, Any]:
    return {"listing": detail, "requested": requested_changes(detail),
            "action": f"/provider/listings/{detail.id}/edit"}


@router.post("/listings/{listing_id}/edit", response_class=HTMLResponse)
async def save_edit(request: Request, listing_id: int, session: PageSession, who: ProviderPage) -> Response:
    """Save the edit; the listing page then offers to (re)submit it."""
    form = await request.form()
    body = attempt(session, partial(_update_from, form))
    done = body if isinstance(body, DomainError) else attempt(
        session, partial(listings.update, session, who, listing_id, body))
    if isinstance(done, DomainError):
        detail = listings.detail(session, who, listing_id)
        return _form_page(request, session, who, detail.dataset_id, dict(form),
                          {**_edit_context(detail), "error": done}, status=done.status)
    return redirect(f"/provider/listings/{listing_id}?saved=1")


@router.get("/listings/{listing_id}", response_class=HTMLResponse)
def listing_page(request: Request, listing_id: int, session: PageSession, who: ProviderPage) -> Response:
    """A listing as its provider sees it: state, what is under review, the checks, reviews and history."""
    detail = listings.detail(session, who, listing_id)
    return render(request, "provider/listing.html", {
        "listing": detail, "submitted": request.query_params.get("submitted"),
        "saved": request.query_params.get("saved"), "requested": requested_changes(detail)})


@router.post("/listings/{listing_id}/submit", response_class=HTMLResponse)
def submit(request: Request, listing_id: int, session: PageSession, who: ProviderPage) -> Response:
    """Send the draft (or the changed listing) to the data office."""
    listings.submit(session, who, listing_id)
    return redirect(f"/provider/listings/{listing_id}?submitted=1")
