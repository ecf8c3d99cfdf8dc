"""Naming a listing's editable fields and their values for people (the review page's "what changed")."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from web import i18n
from web.labels import LABELS


def field_label(locale: str, field: str) -> str:
    """`dp_policy.default_epsilon` → 默认 ε; `offers.2` → 产品方案 2."""
    head, _, tail = field.partition(".")
    if head == "offers":
        return f"{i18n.field_name(locale, 'offers')} {tail}"
    return i18n.field_name(locale, tail or head)


def field_value(locale: str, value: Any) -> str:
    """A field's value as the form shows it; an offer on one line."""
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return " · ".join([str(value.get("name", "")), i18n.label(locale, "scenario", value.get("scenario")),
                           i18n.money(value.get("price_minor")),
                           i18n.translate(locale, "{n} days", n=value.get("term_days")),
                           f"ε {i18n.epsilon(value.get('epsilon_budget'))}",
                           i18n.translate(locale, "{n} queries", n=value.get("query_quota"))])
    if isinstance(value, float):
        return i18n.plain(value)
    for kind in ("grade", "cycle"):
        if value in LABELS[kind]:
            return i18n.label(locale, kind, value)
    return str(value)


def when_iso(locale: str, value: str | datetime | None) -> str:
    """A time written as ISO 8601 (a receipt's `issued_at`, in UTC) shown in Beijing time like the rest."""
    if not isinstance(value, str):
        return i18n.when(locale, value)
    try:
        return i18n.when(locale, datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return value


def action_label(locale: str, action: str) -> str:
    """An audit action as people say it: `listing.review.approve` → 数据产品审核：通过."""
    if action in LABELS["audit_action"]:
        return i18n.label(locale, "audit_action", action)
    head, _, rest = action.partition(".")
    if head not in LABELS["subject"] or not rest:
        return action
    subject = i18n.label(locale, "subject", head)
    if rest.startswith("review."):
        what = i18n.label(locale, "decision", rest.removeprefix("review."))
        return i18n.translate(locale, "{subject} review: {what}", subject=subject, what=what)
    kind = "licence_action" if head == "license" and rest in LABELS["licence_action"] else "action"
    return i18n.translate(locale, "{subject}: {what}", subject=subject, what=i18n.label(locale, kind, rest))


def audit_data(locale: str, data: dict[str, Any]) -> str:
    """An event's data as `key: value` pairs, numbers exact, amounts in yuan."""
    from core.audit_log import exact

    parts = []
    for key, value in exact(data).items():
        if key.endswith("_minor") and isinstance(value, int):
            shown = i18n.money(value)
        elif isinstance(value, dict | list):
            shown = str(value)
        else:
            shown = "—" if value is None else str(value)
        parts.append(f"{key}: {shown}")
    return "; ".join(parts)


def subject_label(locale: str, kind: str) -> str:
    return i18n.label(locale, "subject", kind)


JOURNAL_ZH = [
    (re.compile(r"^Licence (\d+) fee, part (\d+) of bank transfer (\S+)$"),
     r"许可 \1 费用，银行转账 \3 第 \2 笔部分到账"),
    (re.compile(r"^Licence (\d+) fee, bank transfer (\S+)$"), r"许可 \1 费用，银行转账 \2"),
    (re.compile(r"^Licence (\d+) fee, Stripe charge (\S+)$"), r"许可 \1 费用，在线支付 \2"),
    (re.compile(r"^Refund on licence (\d+) \((.+)\)$"), r"许可 \1 退款（\2）"),
    (re.compile(r"^Stripe payout (\S+)$"), r"Stripe 结算到银行 \1"),
    (re.compile(r"^Remittance to the treasury, receipt (.+)$"), r"上缴国库（\1）"),
]


def journal_text(locale: str, description: str) -> str:
    """A journal entry's description (written in English when booked) in the viewer's language."""
    if locale != "zh-CN":
        return description
    for pattern, said in JOURNAL_ZH:
        if pattern.match(description):
            return pattern.sub(said, description)
    return description
