"""Demo data: organizations, users, two graded datasets, published listings, a paid licence, queries.

Passwords are generated on first run into the data dir (`demo-accounts.txt`), never kept in the repo.
Running it again changes nothing.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator

import numpy as np
import polars as pl
from sqlmodel import Session, select

from core.accounts import accounts
from core.auth import Principal, Role, principal_for
from core.config import get_settings
from core.db import unit_of_work
from core.models import User
from licensing.schemas import CheckoutCreate, LicenseCreate, OrganizationRegister, PaymentConfirm
from licensing.service import license_service, payments, registrations
from market.schemas import Dictionary, ListingCreate, ReviewCreate
from market.service import datasets, listings
from sandbox.schemas import QueryCreate
from sandbox.service import queries
from sandbox.worker import get_pool

ROUTES = [f"R{n}" for n in range(1, 11)]
DISTRICTS = ["鼓楼区", "台江区", "仓山区", "晋安区", "马尾区"]
ENTERPRISE = {"name": "闽数科技有限公司 Minshu Data Tech", "credit_code": "91350100M000100Y43"}
STAFF = [
    ("provider@demo.shuyu.cn", Role.provider, "市交通运输局 Municipal Transport Bureau"),
    ("office1@demo.shuyu.cn", Role.data_office, None),
    ("office2@demo.shuyu.cn", Role.data_office, None),
    ("finance@demo.shuyu.cn", Role.finance, None),
    ("admin@demo.shuyu.cn", Role.admin, None),
]
ENTERPRISE_EMAIL = "analyst@minshu.example.cn"


def _passwords() -> dict[str, str]:
    path = get_settings().data_dir / "demo-accounts.txt"
    if path.exists():
        return dict(line.split("\t", 1) for line in path.read_text().splitlines() if "\t" in line)
    emails = [e for e, _, _ in STAFF] + [ENTERPRISE_EMAIL]
    found = {e: "demo-" + secrets.token_urlsafe(9) for e in emails}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{e}\t{p}\n" for e, p in found.items()))
    path.chmod(0o600)
    return found


def bus_trips(rows: int = 20_000, seed: int = 7) -> pl.DataFrame:
    """Synthetic smart-card bus trips: one row per trip, several trips per card."""
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "card_id": [f"C{n:06d}" for n in rng.integers(0, rows // 4, rows)],
        "route": rng.choice(ROUTES, rows).tolist(),
        "district": rng.choice(DISTRICTS, rows).tolist(),
        "hour": rng.integers(5, 23, rows),
        "fare_yuan": np.round(rng.uniform(1, 4, rows), 1),
        "trip_minutes": np.round(rng.gamma(4, 6, rows), 1),
    })


BUS_DICTIONARY = {
    "privacy_unit": {"column": None, "max_contributions": 1},
    "columns": [
        {"name": "card_id", "role": "identifier", "description": "公交卡号 card number"},
        {"name": "route", "role": "dimension", "keys": ROUTES, "description": "线路 route"},
        {"name": "district", "role": "dimension", "keys": DISTRICTS, "description": "上车区 boarding district"},
        {"name": "hour", "role": "dimension", "keys": list(range(5, 23)), "description": "上车小时 boarding hour"},
        {"name": "fare_yuan", "role": "measure", "bounds": [0, 10], "description": "票价（元）fare in yuan"},
        {"name": "trip_minutes", "role": "measure", "bounds": [0, 120], "description": "乘车时长 trip minutes"},
    ],
}


def seed() -> Iterator[str]:
    settings = get_settings()
    get_pool(settings).warm_up()  # the sandbox key pair must exist before anything is encrypted
    pw = _passwords()
    with unit_of_work() as session:
        if session.exec(select(User).where(User.email == ENTERPRISE_EMAIL)).first() is not None:
            yield "demo data is already seeded"
            yield from _accounts_text(pw)
            return
        staff = {}
        for email, role, org in STAFF:
            user = accounts.create_staff(session, email, pw[email], role, org)
            staff[email] = principal_for(session, user)
        provider, office1, office2 = (staff[e] for e in ("provider@demo.shuyu.cn", "office1@demo.shuyu.cn",
                                                          "office2@demo.shuyu.cn"))
        listing_id = _publish_bus(session, provider, office1)
        yield f"published listing {listing_id}: 公交刷卡出行 bus trips (general)"
        reg = registrations.register(session, OrganizationRegister(
            name=ENTERPRISE["name"], credit_code=ENTERPRISE["credit_code"], admin_email=ENTERPRISE_EMAIL,
            admin_password=pw[ENTERPRISE_EMAIL]))
        enterprise = principal_for(session, session.get(User, reg.user_id))  # type: ignore[arg-type]
        licence_id = _paid_licence(session, enterprise, staff["finance@demo.shuyu.cn"], listing_id)
        yield f"licence {licence_id} is active (paid by bank transfer, booked to the treasury ledger)"
        del office2
    with unit_of_work() as session:
        for sql in ("SELECT district, COUNT(*) AS trips, AVG(fare_yuan) AS avg_fare FROM bus_trips GROUP BY district",
                    "SELECT COUNT(*) AS trips FROM bus_trips WHERE hour BETWEEN 7 AND 9"):
            result = queries.run(session, enterprise, QueryCreate(license_id=licence_id, sql=sql, epsilon=0.5))
            yield f"query {result.id}: {sql}  → {len(result.rows)} rows, ε left {result.epsilon_remaining:.2f}"
    yield from _accounts_text(pw)


def _publish_bus(session: Session, provider: Principal, office: Principal) -> int:
    buffer = io.BytesIO()
    bus_trips().write_csv(buffer)
    ds = datasets.upload(session, provider, "bus_trips", "bus_trips.csv", buffer.getvalue())
    datasets.set_dictionary(session, provider, ds.id, Dictionary.model_validate(BUS_DICTIONARY))
    listing = listings.create(session, provider, ListingCreate.model_validate({
        "dataset_id": ds.id, "title": "公交刷卡出行数据 Bus smart-card trips",
        "description": "全市公交刷卡出行记录：线路、上车区、小时、票价、时长。"
                       "City bus trips by route, district and hour.",
        "keywords": ["交通", "公交", "出行", "transport", "bus"], "sector": "交通运输 Transport",
        "proposed_grade": "general", "update_cycle": "monthly",
        "offers": [
            {"name": "科研公益 Research (free)", "scenario": "public_welfare", "price_minor": 0, "currency": "CNY",
             "term_days": 90, "epsilon_budget": 3.0, "query_quota": 50},
            {"name": "商业分析 Commercial analytics", "scenario": "industry", "price_minor": 1_250_000,
             "currency": "CNY", "term_days": 365, "epsilon_budget": 10.0, "query_quota": 500},
        ],
        "dp_policy": {"max_epsilon_per_query": 1.0, "default_epsilon": 0.5, "min_group_size": 0},
    }))
    listings.submit(session, provider, listing.id)
    listings.review(session, office, listing.id, ReviewCreate(decision="approve", grade="general",
                                                              reason_code="meets-standard",
                                                              ceiling_price_minor=2_000_000))
    return listing.id


def _paid_licence(session: Session, enterprise: Principal, finance: Principal, listing_id: int) -> int:
    entry = listings.catalog_entry(session, listing_id)
    offer = next(o for o in entry.offers if o.scenario == "industry")
    licence = license_service.apply(session, enterprise, LicenseCreate(
        listing_id=listing_id, offer_id=offer.id, purpose="线路客流分析 ridership analysis for route planning"))
    checkout = payments.checkout(session, enterprise, licence.id, CheckoutCreate(method="bank_transfer"))
    payments.confirm(session, finance, checkout.payment_id, PaymentConfirm(
        bank_reference=checkout.bank_reference or "", amount_minor=checkout.amount_minor))
    return licence.id


def _accounts_text(pw: dict[str, str]) -> Iterator[str]:
    yield f"demo accounts (passwords also in {get_settings().data_dir / 'demo-accounts.txt'}):"
    for email, password in pw.items():
        yield f"  {email:32s} {password}"
