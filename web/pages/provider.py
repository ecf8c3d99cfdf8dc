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
from market.intake import read_upload
from market.schemas import Dictionary, KeysConfirm, ListingCreate
from market.service import datasets, listings
from web import i18n
from web.forms import minor_units, number, split_list, validated
from web.pages.render import attempt, redirect, render
from web.session import PageSession, ProviderPage, check_csrf

router = APIRouter(prefix="/provider", include_in_schema=False, dependencies=[Depends(check_csrf)])
GRADES = ("general", "important")  # core data is never listed, so it is not offered


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
        return datasets.upload(session, who, name, form.filename, form.data, form.fields.get("encoding") or None)

    done = attempt(session, store)
    if isinstance(done, DomainError):
        if _wants_json(request):
            return JSONResponse({"error": done.detail, "title": done.title}, status_code=done.status)
        return _home(request, session, who, {"error": done, "name": name}, status=done.status)
    target = f"/provider/datasets/{done.id}"
    return JSONResponse({"redirect": target}) if _wants_json(request) else redirect(target)


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset_page(request: Request, dataset_id: int, session: PageSession, who: ProviderPage) -> Response:
    """The dataset's columns and the dictionary editor."""
    _, version = datasets.own_dataset(session, who, dataset_id)
    return _dataset(request, session, who, dataset_id, _editor_rows(version.columns, version.dictionary),
                    (version.dictionary or {}).get("privacy_unit") or {}, {"saved": request.query_params.get("saved")})


def _dataset(request: Request, session: PageSession, who: Principal, dataset_id: int, rows: list[dict[str, Any]],
             unit: dict[str, Any], extra: dict[str, Any], status: int = 200) -> Response:
    dataset, version = datasets.own_dataset(session, who, dataset_id)
    profile = {c.name: c for c in datasets.profile(session, who, dataset_id).columns}
    return render(request, "provider/dataset.html", {
        "dataset": dataset, "version": version, "rows": rows, "unit": unit, "profile": profile,
        "findings": datasets.checks(session, who, dataset_id), "detail": datasets.detail(session, who, dataset_id),
        **extra}, status=status)


def _editor_rows(columns: list[dict[str, Any]], dictionary: dict[str, Any] | None) -> list[dict[str, Any]]:
    described = {c["name"]: c for c in (dictionary or {}).get("columns", [])}
    rows = []
    for column in columns:
        entry = described.get(column["name"], {})
        bounds = entry.get("bounds") or ["", ""]
        rows.append({**column, "role": entry.get("role", "excluded" if dictionary else ""),
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
        unit = {"column": form.get("privacy_column") or None, "max_contributions": form.get("max_contributions")}
        return _dataset(request, session, who, dataset_id, submitted, unit, {"error": done}, status=done.status)
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


def _dictionary_from(form: FormData, columns: list[dict[str, Any]]) -> Dictionary:
    described = []
    for i, column in enumerate(columns):
        role = str(form.get(f"role_{i}") or "excluded")
        entry: dict[str, Any] = {"name": column["name"], "role": role, "description": str(form.get(f"desc_{i}") or "")}
        lo, hi = str(form.get(f"lo_{i}") or "").strip(), str(form.get(f"hi_{i}") or "").strip()
        if role == "measure" and (lo or hi):
            entry["bounds"] = [number(lo, f"{column['name']} low"), number(hi, f"{column['name']} high")]
        keys = split_list(str(form.get(f"keys_{i}") or ""))
        if role == "dimension" and keys:
            entry["keys"] = [_typed_key(k, column["dtype"]) for k in keys]
        described.append(entry)
    unit_column = str(form.get("privacy_column") or "") or None
    max_rows = str(form.get("max_contributions") or "1").strip() or "1"
    built = validated(Dictionary, {"columns": described, "privacy_unit": {
        "column": unit_column, "max_contributions": max_rows}})
    if isinstance(built, DomainError):
        raise built
    return built


@router.get("/datasets/{dataset_id}/listing", response_class=HTMLResponse)
def listing_form(request: Request, dataset_id: int, session: PageSession, who: ProviderPage) -> Response:
    """Draft a listing over a dataset whose dictionary is written."""
    dataset, version = datasets.own_dataset(session, who, dataset_id)
    return render(request, "provider/listing_form.html", {"dataset": dataset, "version": version, "form": {},
                                                          "grades": GRADES})


def _offers_from(form: FormData) -> list[dict[str, Any]]:
    offers = []
    for n in (1, 2):
        name = str(form.get(f"offer{n}_name") or "").strip()
        if not name:
            continue
        offers.append({
            "name": name, "scenario": form.get(f"offer{n}_scenario"),
            "price_minor": minor_units(str(form.get(f"offer{n}_price") or "0"), f"Offer {n} price"),
            "currency": "CNY", "term_days": form.get(f"offer{n}_term_days"),
            "epsilon_budget": form.get(f"offer{n}_epsilon_budget"), "query_quota": form.get(f"offer{n}_query_quota"),
        })
    return offers


def _listing_from(form: FormData, dataset_id: int) -> ListingCreate:
    built = validated(ListingCreate, {
        "dataset_id": dataset_id, "title": str(form.get("title") or "").strip(),
        "description": str(form.get("description") or ""), "keywords": split_list(str(form.get("keywords") or "")),
        "sector": str(form.get("sector") or "").strip(), "proposed_grade": form.get("proposed_grade"),
        "update_cycle": str(form.get("update_cycle") or "").strip(), "offers": _offers_from(form),
        "dp_policy": {"max_epsilon_per_query": form.get("max_epsilon_per_query") or 1.0,
                      "default_epsilon": form.get("default_epsilon") or None,
                      "min_group_size": form.get("min_group_size") or 0},
    })
    if isinstance(built, DomainError):
        raise built
    return built


@router.post("/datasets/{dataset_id}/listing", response_class=HTMLResponse)
async def create_listing(request: Request, dataset_id: int, session: PageSession, who: ProviderPage) -> Response:
    """Create the draft; it is shown with its Submit button."""
    form = await request.form()
    body = attempt(session, partial(_listing_from, form, dataset_id))
    done = body if isinstance(body, DomainError) else attempt(session, partial(listings.create, session, who, body))
    if isinstance(done, DomainError):
        dataset, version = datasets.own_dataset(session, who, dataset_id)
        return render(request, "provider/listing_form.html", {
            "dataset": dataset, "version": version, "form": dict(form), "error": done, "grades": GRADES},
            status=done.status)
    return redirect(f"/provider/listings/{done.id}")


@router.get("/listings/{listing_id}", response_class=HTMLResponse)
def listing_page(request: Request, listing_id: int, session: PageSession, who: ProviderPage) -> Response:
    """A listing as its provider sees it: state, what is under review, the checks, reviews and history."""
    detail = listings.detail(session, who, listing_id)
    return render(request, "provider/listing.html", {"listing": detail,
                                                     "submitted": request.query_params.get("submitted")})


@router.post("/listings/{listing_id}/submit", response_class=HTMLResponse)
def submit(request: Request, listing_id: int, session: PageSession, who: ProviderPage) -> Response:
    """Send the draft (or the changed listing) to the data office."""
    listings.submit(session, who, listing_id)
    return redirect(f"/provider/listings/{listing_id}?submitted=1")
