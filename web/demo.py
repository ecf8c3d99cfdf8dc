"""Demo data: four departments' datasets and listings (bus trips, firm registrations, clinic visits awaiting a
second approval, air quality with a free public-welfare offer), a paid licence, queries.

Passwords are generated on first run into the data dir (`demo-accounts.txt`), never kept in the repo.
Running it again changes nothing.
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

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
from market.schemas import AgreementCreate, Dictionary, ListingCreate, ReviewCreate
from market.service import datasets, listings
from market.service.agreements import CST, agreements
from sandbox.schemas import QueryCreate
from sandbox.service import queries
from sandbox.worker import get_pool

ROUTES = [f"R{n}" for n in range(1, 11)]
DISTRICTS = ["鼓楼区", "台江区", "仓山区", "晋安区", "马尾区"]
ENTERPRISE = {"name": "闽数科技有限公司 Minshu Data Tech", "credit_code": "91350100M000100Y43"}
TRANSPORT, MARKET, HEALTH, ECOLOGY = ("provider@demo.shuyu.cn", "market@demo.shuyu.cn", "health@demo.shuyu.cn",
                                      "eco@demo.shuyu.cn")
STAFF = [
    (TRANSPORT, Role.provider, "市交通运输局 Municipal Transport Bureau"),
    (MARKET, Role.provider, "市市场监督管理局 Municipal Market Regulation Administration"),
    (HEALTH, Role.provider, "市卫生健康委员会 Municipal Health Commission"),
    (ECOLOGY, Role.provider, "市生态环境局 Municipal Ecology and Environment Bureau"),
    ("office1@demo.shuyu.cn", Role.data_office, None),
    ("office2@demo.shuyu.cn", Role.data_office, None),
    ("finance@demo.shuyu.cn", Role.finance, None),
    ("admin@demo.shuyu.cn", Role.admin, None),
]
ENTERPRISE_EMAIL = "analyst@minshu.example.cn"
OPERATOR = "数域运营有限公司 Shuyu Operations Co."
FREE_RESEARCH = {"name": "科研公益 Research (free)", "scenario": "public_welfare", "price_minor": 0, "currency": "CNY",
                 "term_days": 90, "epsilon_budget": 3.0, "query_quota": 50}


def _passwords() -> dict[str, str]:
    """Each demo account's password, generated once into the data dir (new accounts are added to the file)."""
    path = get_settings().data_dir / "demo-accounts.txt"
    found = dict(line.split("\t", 1) for line in path.read_text().splitlines() if "\t" in line) \
        if path.exists() else {}
    emails = [e for e, _, _ in STAFF] + [ENTERPRISE_EMAIL]
    missing = [e for e in emails if e not in found]
    if missing:
        found |= {e: "demo-" + secrets.token_urlsafe(9) for e in missing}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{e}\t{found[e]}\n" for e in emails))
        path.chmod(0o600)
    return {e: found[e] for e in emails}


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
    # A card holder takes many trips: the card is the unit, and each query keeps at most 5 trips per card.
    "privacy_unit": {"column": "card_id", "max_contributions": 5, "label_zh": "持卡人", "label_en": "card holder"},
    "row_label_zh": "出行记录", "row_label_en": "trip", "row_bound": 1_000_000,
    "columns": [
        {"name": "card_id", "role": "identifier", "description": "公交卡号 card number"},
        {"name": "route", "role": "dimension", "keys": ROUTES, "description": "线路 route"},
        {"name": "district", "role": "dimension", "keys": DISTRICTS, "description": "上车区 boarding district"},
        {"name": "hour", "role": "dimension", "keys": list(range(5, 23)), "description": "上车小时 boarding hour"},
        {"name": "fare_yuan", "role": "measure", "bounds": [0, 10], "description": "票价（元）fare in yuan"},
        {"name": "trip_minutes", "role": "measure", "bounds": [0, 120], "description": "乘车时长 trip minutes"},
    ],
}

INDUSTRIES = ["批发和零售业", "制造业", "信息传输、软件和信息技术服务业", "住宿和餐饮业", "建筑业", "租赁和商务服务业"]
EVENTS = ["设立登记", "变更登记", "注销登记"]
FIRM_KINDS = ["有限责任公司", "个体工商户", "股份有限公司", "农民专业合作社"]


def registrations_frame(firms: int = 3000, seed: int = 11) -> pl.DataFrame:
    """Synthetic market-entity registration events: a firm is set up once and may change or close later."""
    rng = np.random.default_rng(seed)
    changes = rng.poisson(0.8, firms)
    firm = np.repeat(np.arange(firms), 1 + changes)
    first = np.concatenate([[True] + [False] * int(c) for c in changes])
    later = rng.choice(EVENTS[1:], len(firm), p=[0.85, 0.15])
    return pl.DataFrame({
        "firm_id": [f"F{n:06d}" for n in firm],
        "district": rng.choice(DISTRICTS, firms)[firm].tolist(),
        "industry": rng.choice(INDUSTRIES, firms)[firm].tolist(),
        "firm_kind": rng.choice(FIRM_KINDS, firms, p=[0.5, 0.4, 0.05, 0.05])[firm].tolist(),
        "event": np.where(first, EVENTS[0], later).tolist(),
        "year": rng.integers(2019, 2026, len(firm)),
        "capital_wan": np.round(rng.lognormal(4, 1.2, firms), 1)[firm],
    })


REGISTRATIONS_DICTIONARY = {
    "privacy_unit": {"column": "firm_id", "max_contributions": 3, "label_zh": "企业", "label_en": "firm"},
    "row_label_zh": "登记事项", "row_label_en": "registration event", "row_bound": 1_000_000,
    "columns": [
        {"name": "firm_id", "role": "identifier", "description": "市场主体编号 firm number"},
        {"name": "district", "role": "dimension", "keys": DISTRICTS, "description": "登记机关所在区 district"},
        {"name": "industry", "role": "dimension", "keys": INDUSTRIES, "description": "国民经济行业门类 industry"},
        {"name": "firm_kind", "role": "dimension", "keys": FIRM_KINDS, "description": "市场主体类型 kind of firm"},
        {"name": "event", "role": "dimension", "keys": EVENTS, "description": "登记事项 registration event"},
        {"name": "year", "role": "dimension", "keys": list(range(2019, 2026)), "description": "年份 year"},
        {"name": "capital_wan", "role": "measure", "bounds": [0, 100_000], "description": "注册资本（万元）"},
    ],
}

AGE_GROUPS = ["0-14岁", "15-44岁", "45-64岁", "65岁及以上"]
CLINICS = ["全科", "内科", "儿科", "中医科", "口腔科"]


def clinic_visits(patients: int = 2500, seed: int = 13) -> pl.DataFrame:
    """Synthetic community-health-centre outpatient visits: several visits per patient over a year."""
    rng = np.random.default_rng(seed)
    visits = 1 + rng.negative_binomial(1, 0.35, patients)
    patient = np.repeat(np.arange(patients), visits)
    rows = len(patient)
    return pl.DataFrame({
        "patient_id": [f"H{n:07d}" for n in patient],
        "district": rng.choice(DISTRICTS, patients)[patient].tolist(),
        "age_group": rng.choice(AGE_GROUPS, patients, p=[0.15, 0.35, 0.3, 0.2])[patient].tolist(),
        "clinic": rng.choice(CLINICS, rows).tolist(),
        "month": rng.integers(1, 13, rows),
        "cost_yuan": np.round(rng.gamma(2, 60, rows), 2),
    })


CLINIC_DICTIONARY = {
    "privacy_unit": {"column": "patient_id", "max_contributions": 10, "label_zh": "就诊者", "label_en": "patient"},
    "row_label_zh": "门诊就诊记录", "row_label_en": "visit", "row_bound": 1_000_000,
    "columns": [
        {"name": "patient_id", "role": "identifier", "description": "就诊者编号（已脱敏）patient number"},
        {"name": "district", "role": "dimension", "keys": DISTRICTS, "description": "常住区 district"},
        {"name": "age_group", "role": "dimension", "keys": AGE_GROUPS, "description": "年龄组 age group"},
        {"name": "clinic", "role": "dimension", "keys": CLINICS, "description": "就诊科室 clinic"},
        {"name": "month", "role": "dimension", "keys": list(range(1, 13)), "description": "就诊月份 month"},
        {"name": "cost_yuan", "role": "measure", "bounds": [0, 3000], "description": "门诊费用（元）cost in yuan"},
    ],
}

STATIONS = {"鼓楼区": ["五四北", "温泉公园"], "台江区": ["紫阳", "上海新村"], "仓山区": ["仓山区政府", "师大"],
            "晋安区": ["鼓山", "新店"], "马尾区": ["马尾区政府", "快安"]}


def air_quality(days: int = 60, seed: int = 17) -> pl.DataFrame:
    """Synthetic hourly readings of ten air-quality monitoring stations."""
    rng = np.random.default_rng(seed)
    stations = [(d, s) for d, names in STATIONS.items() for s in names]
    hours = days * 24
    rows = [(d, s, h % 24) for d, s in stations for h in range(hours)]
    pm25 = np.clip(rng.gamma(3, 9, len(rows)) + 8 * np.sin(np.array([r[2] for r in rows]) / 24 * 2 * np.pi), 1, None)
    return pl.DataFrame({
        "district": [r[0] for r in rows], "station": [r[1] for r in rows], "hour": [r[2] for r in rows],
        "pm25": np.round(pm25, 1),
        "o3": np.round(rng.gamma(4, 15, len(rows)), 1),
    })


AIR_DICTIONARY = {
    # Readings of stations, not people: a row (one station-hour) is the unit.
    "privacy_unit": {"column": None, "max_contributions": 1},
    "row_label_zh": "小时监测记录", "row_label_en": "hourly reading", "row_bound": 1_000_000,
    "columns": [
        {"name": "district", "role": "dimension", "keys": DISTRICTS, "description": "所在区 district"},
        {"name": "station", "role": "dimension", "keys": [s for names in STATIONS.values() for s in names],
         "description": "国控/省控监测站点 station"},
        {"name": "hour", "role": "dimension", "keys": list(range(24)), "description": "小时 hour of day"},
        {"name": "pm25", "role": "measure", "bounds": [0, 500], "description": "PM2.5 浓度（μg/m³）"},
        {"name": "o3", "role": "measure", "bounds": [0, 800], "description": "臭氧浓度（μg/m³）ozone"},
    ],
}


def seed() -> Iterator[str]:
    settings = get_settings()
    get_pool(settings).warm_up()  # the sandbox key pair must exist before anything is encrypted
    pw = _passwords()
    with unit_of_work() as session:
        staff = _staff(session, pw)
        office1, office2 = staff["office1@demo.shuyu.cn"], staff["office2@demo.shuyu.cn"]
        line = _agreement(session, office1)
        if line:
            yield line
        # The order matters for the pages: the data office's list shows the latest submission first.
        for line in (_clinics(session, staff[HEALTH], office1), _air(session, staff[ECOLOGY], office1),
                     _registrations(session, staff[MARKET], office2)):
            if line:
                yield line
        if session.exec(select(User).where(User.email == ENTERPRISE_EMAIL)).first() is not None:
            yield "demo data is already seeded"
            yield from _accounts_text(pw)
            return
        listing_id = _publish_bus(session, staff[TRANSPORT], office1)
        yield f"published listing {listing_id}: 公交刷卡出行 bus trips (general; unit: a card holder, up to 5 trips)"
        reg = registrations.register(session, OrganizationRegister(
            name=ENTERPRISE["name"], credit_code=ENTERPRISE["credit_code"], admin_email=ENTERPRISE_EMAIL,
            admin_password=pw[ENTERPRISE_EMAIL]))
        enterprise = principal_for(session, session.get(User, reg.user_id))  # type: ignore[arg-type]
        licence_id = _paid_licence(session, enterprise, staff["finance@demo.shuyu.cn"], listing_id)
        yield f"licence {licence_id} is active (paid by bank transfer, booked to the treasury ledger)"
    with unit_of_work() as session:
        for sql in ("SELECT district, COUNT(*) AS trips, AVG(fare_yuan) AS avg_fare FROM bus_trips GROUP BY district",
                    "SELECT COUNT(*) AS trips FROM bus_trips WHERE hour BETWEEN 7 AND 9"):
            result = queries.run(session, enterprise, QueryCreate(license_id=licence_id, sql=sql, epsilon=0.5))
            yield f"query {result.id}: {sql}  → {len(result.rows)} rows, ε left {result.epsilon_remaining:.2f}"
    yield from _accounts_text(pw)


def _staff(session: Session, pw: dict[str, str]) -> dict[str, Principal]:
    """The demo's staff, created where missing (a database seeded by an older demo gains the new ones)."""
    found = {}
    for email, role, org in STAFF:
        user = session.exec(select(User).where(User.email == email)).first()
        if user is None:
            user = accounts.create_staff(session, email, pw[email], role, org)
        found[email] = principal_for(session, user)
    return found


def _agreement(session: Session, office: Principal) -> str | None:
    """The operator (an organization of its own) and the agreement that authorizes it to run the four departments'
    data: without one, nothing can be submitted."""
    if agreements.list(session).total:
        return None
    today = date.today()
    made = agreements.create(session, office, AgreementCreate(
        title="公共数据授权运营协议（2026—2029）", authorizing_body="某市人民政府 Municipal People's Government",
        operator=OPERATOR, departments=[org for _, role, org in STAFF if role is Role.provider and org],
        starts_on=today - timedelta(days=30), ends_on=today + timedelta(days=3 * 365),
        conditions="仅以差分隐私聚合结果提供服务；原始数据不出域；收费执行政府指导价，收入上缴财政。"))
    return f"authorization agreement {made.id}: {made.operator} operates the four departments' data until " \
           f"{made.ends_at.astimezone(CST):%Y-%m-%d}"


def _has_dataset(session: Session, provider: Principal, name: str) -> bool:
    return any(d.name == name for d in datasets.list(session, provider, 200, 0).items)


def _listed(session: Session, provider: Principal, name: str, frame: pl.DataFrame, dictionary: dict[str, Any],
            listing: dict[str, Any]) -> int:
    """Upload a frame as CSV, write its dictionary, draft the listing over it and submit it."""
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    ds = datasets.upload(session, provider, name, f"{name}.csv", buffer.getvalue())
    datasets.set_dictionary(session, provider, ds.id, Dictionary.model_validate(dictionary))
    created = listings.create(session, provider, ListingCreate.model_validate({"dataset_id": ds.id, **listing}))
    listings.submit(session, provider, created.id)
    return created.id


def _approve(session: Session, office: Principal, listing_id: int, grade: str, ceiling: int | None = None) -> None:
    listings.review(session, office, listing_id, ReviewCreate(decision="approve", grade=grade,
                                                              reason_code="meets-standard",
                                                              ceiling_price_minor=ceiling))


def _clinics(session: Session, provider: Principal, office: Principal) -> str | None:
    """Important data: one approval given, the second (by another officer) still awaited."""
    if _has_dataset(session, provider, "clinic_visits"):
        return None
    listing_id = _listed(session, provider, "clinic_visits", clinic_visits(), CLINIC_DICTIONARY, {
        "title": "社区卫生服务中心门诊就诊统计 Community clinic visits",
        "description": "全市社区卫生服务中心门诊就诊记录（已去标识）：常住区、年龄组、科室、月份、门诊费用。"
                       "用于基层医疗资源配置研究。Outpatient visits by district, age group, clinic and month.",
        "keywords": ["卫生", "医疗", "门诊", "health", "clinic"], "sector": "卫生健康 Health",
        "proposed_grade": "important", "update_cycle": "quarterly",
        "offers": [{**FREE_RESEARCH, "name": "卫生政策研究（免费）Health policy research (free)",
                    "epsilon_budget": 2.0, "query_quota": 30}],
        "dp_policy": {"max_epsilon_per_query": 0.5, "default_epsilon": 0.25, "min_group_size": 10},
    })
    _approve(session, office, listing_id, "important")
    return f"listing {listing_id}: 社区门诊就诊 clinic visits (important; 1 of 2 approvals, awaiting the second)"


def _air(session: Session, provider: Principal, office: Principal) -> str | None:
    """A free public-welfare offer on environmental readings (a row is the unit: no person in the data)."""
    if _has_dataset(session, provider, "air_quality"):
        return None
    listing_id = _listed(session, provider, "air_quality", air_quality(), AIR_DICTIONARY, {
        "title": "空气质量监测站小时数据 Hourly air-quality readings",
        "description": "全市十个空气质量监测站点的逐小时 PM2.5 与臭氧浓度，免费向科研与公益用途开放。"
                       "Hourly PM2.5 and ozone at ten monitoring stations, free for research and public welfare.",
        "keywords": ["环境", "空气质量", "PM2.5", "environment", "air"], "sector": "生态环境 Environment",
        "proposed_grade": "general", "update_cycle": "daily", "offers": [FREE_RESEARCH],
        "dp_policy": {"max_epsilon_per_query": 1.0, "default_epsilon": 0.5, "min_group_size": 0},
    })
    _approve(session, office, listing_id, "general")
    return f"published listing {listing_id}: 空气质量 air quality (general; free public-welfare offer)"


def _registrations(session: Session, provider: Principal, office: Principal) -> str | None:
    if _has_dataset(session, provider, "firm_registrations"):
        return None
    listing_id = _listed(session, provider, "firm_registrations", registrations_frame(), REGISTRATIONS_DICTIONARY, {
        "title": "市场主体登记注册数据 Market entity registrations",
        "description": "2019 年以来全市市场主体设立、变更、注销登记事项：所在区、行业门类、主体类型、注册资本。"
                       "Registrations, changes and closures of firms by district, industry and kind since 2019.",
        "keywords": ["市场监管", "企业", "登记", "营商环境", "business", "registration"],
        "sector": "市场监管 Market regulation", "proposed_grade": "general", "update_cycle": "monthly",
        "offers": [FREE_RESEARCH,
                   {"name": "营商环境分析 Business analytics", "scenario": "industry", "price_minor": 800_000,
                    "currency": "CNY", "term_days": 180, "epsilon_budget": 8.0, "query_quota": 300}],
        "dp_policy": {"max_epsilon_per_query": 1.0, "default_epsilon": 0.5, "min_group_size": 0},
    })
    _approve(session, office, listing_id, "general", ceiling=1_000_000)
    return f"published listing {listing_id}: 市场主体登记 firm registrations (general; unit: a firm, up to 3 events)"


def _publish_bus(session: Session, provider: Principal, office: Principal) -> int:
    listing_id = _listed(session, provider, "bus_trips", bus_trips(), BUS_DICTIONARY, {
        "title": "公交刷卡出行数据 Bus smart-card trips",
        "description": "全市公交刷卡出行记录：线路、上车区、小时、票价、时长。"
                       "City bus trips by route, district and hour.",
        "keywords": ["交通", "公交", "出行", "transport", "bus"], "sector": "交通运输 Transport",
        "proposed_grade": "general", "update_cycle": "monthly",
        "offers": [
            FREE_RESEARCH,
            {"name": "商业分析 Commercial analytics", "scenario": "industry", "price_minor": 1_250_000,
             "currency": "CNY", "term_days": 365, "epsilon_budget": 10.0, "query_quota": 500},
        ],
        "dp_policy": {"max_epsilon_per_query": 1.0, "default_epsilon": 0.5, "min_group_size": 0},
    })
    _approve(session, office, listing_id, "general", ceiling=2_000_000)
    return listing_id


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
