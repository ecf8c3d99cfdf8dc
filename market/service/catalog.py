"""The public catalog: ranked search with filters, synthetic previews, and DCAT-AP JSON-LD."""

from __future__ import annotations

import math
import random
from datetime import datetime
from typing import Any

from sqlmodel import Session

from core.times import iso, parse_one
from market import recent
from market import repository as repo
from market.schemas import (
    CatalogEntry,
    DictionaryColumn,
    FeeLine,
    FeeSchedule,
    ListingPage,
    PreviewColumn,
    PreviewRead,
)
from market.service.common import provider_name, read, read_many

SORTS = ("relevance", "newest", "title", "price_asc", "price_desc")
PREVIEW_NOTICE = ("合成数据：仅依据公开数据字典（角色、取值范围、公开分类）随机生成，"
                  "并非来自数据集，不反映任何真实记录。"
                  " Synthetic rows generated only from the public data dictionary (roles, bounds, public keys): "
                  "they are not from the dataset and say nothing about it. Use them to write queries.")
FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
PERIODICITY = {"daily": "DAILY", "每日": "DAILY", "weekly": "WEEKLY", "每周": "WEEKLY", "monthly": "MONTHLY",
               "每月": "MONTHLY", "quarterly": "QUARTERLY", "每季度": "QUARTERLY", "yearly": "ANNUAL",
               "annual": "ANNUAL", "annually": "ANNUAL", "每年": "ANNUAL", "irregular": "IRREG", "不定期": "IRREG"}
GRADE_LABELS = {"general": "一般数据 general data (GB/T 43697-2024)",
                "important": "重要数据 important data (GB/T 43697-2024)"}
CONTEXT = {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/",
           "foaf": "http://xmlns.com/foaf/0.1/", "skos": "http://www.w3.org/2004/02/skos/core#",
           "rdfs": "http://www.w3.org/2000/01/rdf-schema#", "xsd": "http://www.w3.org/2001/XMLSchema#"}


def search(session: Session, where: repo.CatalogFilter, limit: int, offset: int) -> ListingPage:
    """Ranked when there is a query (every term must match; see market.search), newest first otherwise."""
    sort = where.sort if where.sort in SORTS else "relevance"
    where = repo.CatalogFilter(**{**where.__dict__, "sort": sort})

    def page() -> ListingPage:
        rows, total = repo.search_published(session, where, limit, offset)
        return ListingPage(items=read_many(session, rows), total=total)

    return recent.cached(("catalog", where, limit, offset), page)


def preview(entry: CatalogEntry, rows: int) -> PreviewRead:
    """Rows drawn from the dictionary alone (never the data), the same every time for a listing version."""
    rng = random.Random(f"{entry.id}:{entry.dataset_version}")
    dtypes = {c.name: c.dtype for c in entry.columns}
    described = [c for c in (entry.dictionary.columns if entry.dictionary else []) if c.role != "excluded"]
    columns = [PreviewColumn(name=c.name, dtype=c.time or dtypes.get(c.name, "string"), role=c.role)
               for c in described]
    data = [[_value(rng, c, dtypes.get(c.name, "string")) for c in described] for _ in range(rows)]
    return PreviewRead(listing_id=entry.id, notice=PREVIEW_NOTICE, columns=columns, rows=data)


def _value(rng: random.Random, column: DictionaryColumn, dtype: str) -> Any:
    if column.time and column.period:
        first, last = (parse_one(v, "datetime") for v in column.period)
        if isinstance(first, datetime) and isinstance(last, datetime):
            moment = first + (last - first) * rng.random()
            return iso(moment.date()) if column.time == "date" else iso(moment.replace(microsecond=0))
    if column.role == "dimension" and column.keys:
        return rng.choice(column.keys)
    if column.role == "measure" and column.bounds:
        low, high = column.bounds
        if dtype == "int":
            return rng.randint(math.ceil(low), math.floor(high))
        return round(rng.uniform(low, high), 2)
    if dtype == "bool":
        return rng.random() < 0.5
    if dtype == "int":
        return rng.randint(1, 9)
    prefix = "SYN" if column.role == "identifier" else f"{column.name}_"
    return f"{prefix}{rng.randint(1, 999):03d}"


def dcat(session: Session, base_url: str) -> dict[str, Any]:
    """The catalog as a DCAT-AP `dcat:Catalog` naming every published listing."""
    base = base_url.rstrip("/")
    rows, _ = repo.search_published(session, repo.CatalogFilter(sort="newest"), 100_000, 0)
    return {
        "@context": CONTEXT, "@id": f"{base}/api/v1/catalog.jsonld", "@type": "dcat:Catalog",
        "dct:title": "Shuyu 数域 public data catalog",
        "dct:description": "Public data authorized for operation: usable through differentially private "
                           "SQL aggregates, never as raw rows (原始数据不出域，数据可用不可见).",
        "foaf:homepage": {"@id": f"{base}/"},
        "dcat:dataset": [_dataset(base, read(session, r).model_dump()) for r in rows],
    }


def _dataset(base: str, listing: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {
        "@id": f"{base}/api/v1/catalog/{listing['id']}", "@type": "dcat:Dataset",
        "dct:identifier": listing["registration_code"] or str(listing["id"]),
        "dct:title": listing["title"], "dct:description": listing["description"],
        "dcat:keyword": listing["keywords"],
        "dct:publisher": {"@type": "foaf:Organization", "foaf:name": listing["provider"]},
        "dcat:landingPage": {"@id": f"{base}/listings/{listing['id']}"},
        "dct:accessRights": {"@id": f"{base}/grades/{listing['grade']}", "@type": "dct:RightsStatement",
                             "rdfs:label": GRADE_LABELS.get(listing["grade"], listing["grade"])},
        "dcat:distribution": [_distribution(base, listing)],
    }
    if listing["rights"]:
        rights = listing["rights"]
        node["dct:rightsHolder"] = {"@type": "foaf:Organization", "foaf:name": rights["use"]}
        node["dct:rights"] = {"@type": "dct:RightsStatement", "rdfs:label": (
            f"所有权：{rights['ownership']}；使用权：{rights['use']}；收益权：{rights['revenue']} "
            f"(ownership: {rights['ownership']}; use: {rights['use']}; revenue: {rights['revenue']})")}
    if listing["sector"]:
        node["dcat:theme"] = {"@type": "skos:Concept", "skos:prefLabel": listing["sector"]}
    if listing["published_at"]:
        node["dct:issued"] = {"@value": listing["published_at"].isoformat(), "@type": "xsd:dateTime"}
    frequency = PERIODICITY.get(listing["update_cycle"].strip().lower())
    if frequency:
        node["dct:accrualPeriodicity"] = {"@id": FREQUENCY + frequency}
    return node


def _distribution(base: str, listing: dict[str, Any]) -> dict[str, Any]:
    return {
        "@id": f"{base}/api/v1/catalog/{listing['id']}#sandbox", "@type": "dcat:Distribution",
        "dct:title": "Differentially private SQL aggregates (licence required)",
        "dcat:accessURL": {"@id": f"{base}/api/v1/queries"},
        "dct:format": "application/json",
        "dcat:accessService": {
            "@type": "dcat:DataService", "dct:title": "Shuyu sandbox API",
            "dcat:endpointURL": {"@id": f"{base}/api/v1/queries"},
            "dcat:endpointDescription": {"@id": f"{base}/openapi.json"},
        },
    }


def fee_schedule(session: Session) -> FeeSchedule:
    """The public fee schedule (收费公示): every offer on sale, its price, term and what it includes."""
    providers: dict[int, str] = {}
    items = []
    for listing, offer in repo.published_offers(session):
        if listing.provider_org_id not in providers:
            providers[listing.provider_org_id] = provider_name(session, listing)
        items.append(FeeLine(
            listing_id=listing.id or 0, listing_title=listing.title, provider=providers[listing.provider_org_id],
            grade=listing.grade, offer_id=offer.id or 0, offer_name=offer.name, scenario=offer.scenario,
            price_minor=offer.price_minor, currency=offer.currency, ceiling_price_minor=listing.ceiling_price_minor,
            term_days=offer.term_days, epsilon_budget=offer.epsilon_budget, query_quota=offer.query_quota,
            price_per_query_minor=offer.price_per_query_minor))
    return FeeSchedule(items=items, total=len(items))
