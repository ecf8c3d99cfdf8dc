"""The annual disclosure (年度公开报告) as a PDF, in Chinese and English, set in the platform's CJK font."""

from __future__ import annotations

from fpdf import FPDF

from core.pdf import document, label_rows, table
from licensing.disclosure import CST, Disclosure, Money

SCENARIOS = {"public_welfare": "公益 Welfare", "industry": "产业 Industry", "public_governance": "治理 Governance"}
GRADES = {"general": "一般 General", "important": "重要 Important", "core": "核心 Core"}


def _yuan(minor: int | None) -> str:
    if minor is None:
        return "—"
    whole, cents = divmod(abs(minor), 100)
    return f"{'-' if minor < 0 else ''}¥{whole:,}.{cents:02d}"


def _net(money: list[Money]) -> str:
    return "；".join(f"{_yuan(m.net_minor)} {m.currency}" for m in money) or "—"


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(4)
    pdf.set_font("cjk", size=12)
    pdf.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=8)


def render_disclosure(d: Disclosure) -> bytes:
    pdf = document(f"{d.year} 年度公开报告 Annual disclosure {d.year}")
    pdf.set_font("cjk", size=18)
    pdf.cell(0, 11, f"公共数据授权运营 {d.year} 年度公开报告", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=11)
    pdf.cell(0, 7, f"Annual disclosure of authorized public data operation, {d.year}", align="C",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=9)
    pdf.cell(0, 6, f"生成 Generated {d.generated_at.astimezone(CST):%Y-%m-%d %H:%M} (UTC+8) · "
                   f"公开期限 Due by {d.deadline:%Y-%m-%d}", align="C", new_x="LMARGIN", new_y="NEXT")
    _heading(pdf, "一、运营机构 Operator")
    pdf.set_font("cjk", size=9)
    if d.operator is not None:
        label_rows(pdf, [("名称 Name", d.operator.name), ("职能 Role", d.operator.role),
                         ("收入账户 Revenue account", d.operator.revenue_account)])
    _heading(pdf, "二、授权运营协议 Authorization agreements")
    table(pdf, ["协议 Agreement", "授权主体 Authorizing body", "运营机构 Operator", "范围 Scope", "期限 Term"],
          [[a.title, a.authorizing_body, a.operator, a.scope, f"{a.starts_on:%Y-%m-%d}–{a.ends_on:%Y-%m-%d}"]
           for a in d.agreements] or [["—"] * 5], widths=[45, 35, 35, 40, 35])
    _heading(pdf, "三、授权运营的数据资源 Authorized resources")
    table(pdf, ["登记编码 Code", "资源 Resource", "持有单位 Holder", "分级 Grade", "状态 Status", "限价 Ceiling"],
          [[r.registration_code or "—", r.title, r.provider, GRADES.get(r.grade or "", r.grade or "—"), r.status,
            _yuan(r.ceiling_price_minor)] for r in d.resources] or [["—"] * 6], widths=[30, 45, 35, 22, 25, 33])
    _heading(pdf, "四、产品及实际收费 Products and fees actually charged")
    table(pdf, ["资源 Resource", "产品 Product", "场景 Scenario", "标价 Price", "授予 Granted", "实收区间 Charged",
                "净收入 Net"],
          [[r.title, p.name, SCENARIOS.get(p.scenario, p.scenario), _yuan(p.price_minor), str(p.licences_granted),
            f"{_yuan(p.actual_min_price_minor)}–{_yuan(p.actual_max_price_minor)}"
            if p.actual_min_price_minor is not None else "—", _net(p.revenue)]
           for r in d.resources for p in r.products] or [["—"] * 7], widths=[35, 30, 22, 22, 16, 33, 32])
    _heading(pdf, "五、收入与最高准许收入 Revenue and the approved ceiling")
    pdf.set_font("cjk", size=9)
    rows = [("许可授予 Licences", "；".join(f"{SCENARIOS.get(s.scenario, s.scenario)} {s.licences_granted}"
                                           for s in d.licences_by_scenario) or "0"),
            ("净收入 Net revenue", _net(d.revenue))]
    cap = d.revenue_cap
    rows += [("最高准许收入 Ceiling", _yuan(cap.ceiling_minor)), ("上期扣减 Deduction", _yuan(cap.deduction_minor)),
             ("本期准许 Allowed", _yuan(cap.allowed_minor)), ("超出部分 Excess (deducted next year)",
                                                              _yuan(cap.excess_minor))] if cap else [
        ("最高准许收入 Ceiling", "本年度未核定 none approved for the year")]
    label_rows(pdf, rows, label_width=60)
    _heading(pdf, "六、投诉与异议 Complaints and objections")
    pdf.set_font("cjk", size=9)
    c = d.complaints
    label_rows(pdf, [("投诉 Complaints", str(c.complaints_received)), ("异议 Objections", str(c.objections_received)),
                     ("已答复 Answered", str(c.handled)), ("成立 Upheld", str(c.upheld))], label_width=60)
    _heading(pdf, "七、公开统计（数据社会化）Open statistics")
    table(pdf, ["编号 No.", "资源 Resource", "统计 Statistic", "表数 Tables", "ε"],
          [[str(s.id), s.listing_title, s.title, str(s.tables), f"{s.epsilon_total:g}"] for s in d.open_statistics]
          or [["—"] * 5], widths=[16, 50, 70, 22, 32])
    _heading(pdf, "说明 Notes")
    for zh, en in zip(d.notes_zh, d.notes, strict=False):
        pdf.multi_cell(0, 4.5, f"· {zh}  {en}", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
