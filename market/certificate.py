"""The registration certificate (登记证书) of a data product as a PDF, in Chinese and English.

It states what the public registration record states — the code, the product, the holder, the three rights,
grade, sector and scenarios, when it was registered and each later event — and where anyone can check it
(the public record's address). A cancelled record's certificate says so on its face.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta, timezone

from core.pdf import document, label_rows, table
from market.schemas import RegistrationRead, Rights

CST = timezone(timedelta(hours=8), "UTC+8")
KINDS = {"initial": "首次登记 First registration", "change": "变更登记 Change",
         "correction": "更正登记 Correction", "cancellation": "注销登记 Cancellation"}
STATUS = {"active": "已登记 Registered", "cancelled": "已注销 CANCELLED", "notice": "公示中 Under public notice"}
GRADES = {"general": "一般数据 General", "important": "重要数据 Important", "core": "核心数据 Core"}
SCENARIOS = {"public_governance": "公共治理 Public governance", "public_welfare": "公益事业 Public welfare",
             "industry": "产业发展 Industry"}


@dataclass(frozen=True)
class CertificateFacts:
    """What the certificate states beyond the public record: the product's current registered facts."""

    record: RegistrationRead
    rights: Rights
    grade: str | None
    sector: str
    scenarios: list[str]
    issuer: str
    check_url: str


def render_certificate(facts: CertificateFacts) -> bytes:
    record = facts.record
    pdf = document(f"登记证书 Registration certificate {record.code}")
    pdf.set_font("cjk", size=20)
    pdf.cell(0, 12, "公共数据资源登记证书", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=12)
    pdf.cell(0, 8, "Certificate of Public Data Resource Registration", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=14)
    pdf.cell(0, 10, f"登记编码 Code: {record.code}", align="C", new_x="LMARGIN", new_y="NEXT")
    if record.status == "cancelled":
        pdf.set_text_color(180, 0, 0)
        pdf.cell(0, 10, "本登记已注销  THIS REGISTRATION IS CANCELLED", align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
    pdf.ln(3)
    pdf.set_font("cjk", size=10)
    label_rows(pdf, [
        ("数据产品 Product", record.title),
        ("持有单位 Holder", record.provider),
        ("所有权 Ownership", facts.rights.ownership),
        ("使用权 Right of use", facts.rights.use),
        ("收益权 Right to revenue", facts.rights.revenue),
        ("分级 Grade", GRADES.get(facts.grade or "", facts.grade or "—")),
        ("行业 Sector", facts.sector or "—"),
        ("应用场景 Scenarios", "；".join(SCENARIOS.get(s, s) for s in facts.scenarios) or "—"),
        ("登记日期 Registered", f"{record.registered_at.astimezone(CST):%Y-%m-%d} (UTC+8)"),
        ("公示截止 Notice ended",
         f"{record.notice_ends_at.astimezone(CST):%Y-%m-%d}" if record.notice_ends_at else "—"),
        ("状态 Status", STATUS.get(record.status, record.status)),
        ("登记机构 Issued by", facts.issuer),
    ])
    pdf.ln(4)
    pdf.set_font("cjk", size=11)
    pdf.cell(0, 8, "登记记录 Registration events", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=9)
    table(pdf, ["日期 Date", "类型 Kind", "原因 Reason", "说明 Note"],
          [[f"{e.created_at.astimezone(CST):%Y-%m-%d}", KINDS.get(e.kind, e.kind), e.reason_code, e.note or ""]
           for e in record.events], widths=[25, 45, 45, 75])
    pdf.ln(6)
    pdf.set_font("cjk", size=8)
    pdf.multi_cell(0, 5, f"本证书依据公开登记记录生成，可在 {facts.check_url} 查验。\n"
                         "This certificate is generated from the public registration record; check it at "
                         f"{facts.check_url}.",
                   new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
