"""Languages and formats for the pages: zh-CN and English, chosen from Accept-Language or a cookie.

Code and templates write English and call `_("...")`; the Chinese lives in the gettext catalog
`web/locale/zh_CN/LC_MESSAGES/messages.po`, read once when first needed (no compile step: a translator edits
the `.po` and restarts). `make messages` extracts the texts from the code and templates and updates the
catalog (docs/translating.md). Money, numbers and dates are written with Babel's CLDR data, in China Standard
Time, so that every page shows them the same way (¥1,234.50).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel.dates import format_skeleton
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

from web.labels import FIELDS, LABELS

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
LANG_COOKIE = "shuyu_lang"
# China Standard Time, shown to every user: the platform, its offices and its treasury run on it.
CST = timezone(timedelta(hours=8), "UTC+8")
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# The CLDR locale behind each page language: the English pages write British English (licence, 30 Nov 2026).
CLDR = {"zh-CN": "zh_CN", "en": "en_GB"}
# Numbers and money are written as China writes them on both languages' pages: the same digits and separators
# as British English, and ¥ rather than English's CN¥ (every amount is the platform's yuan).
NUMBERS = "zh_CN"


def negotiate(accept_language: str | None) -> str:
    """The best supported locale for an Accept-Language header (q-values honoured)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LOCALE


def chosen(cookie: str | None, accept_language: str | None) -> str:
    return cookie if cookie in LOCALES else negotiate(accept_language)


def catalog_path(locale: str) -> Path:
    return LOCALE_DIR / CLDR.get(locale, locale) / "LC_MESSAGES" / "messages.po"


@cache
def translations(locale: str) -> dict[tuple[str | None, str], str]:
    """(context, English) → the locale's text, from its `.po`; fuzzy entries are left out, as gettext does."""
    path = catalog_path(locale)
    if locale == "en" or not path.exists():
        return {}
    with path.open("rb") as po:
        catalog = read_po(po, locale=CLDR[locale])
    return {(message.context, message.id): message.string for message in catalog
            if isinstance(message.id, str) and message.id and isinstance(message.string, str) and message.string
            and not message.fuzzy}


def translate(locale: str, text: str, **values: object) -> str:
    template = translations(locale).get((None, text), text)
    return template.format(**values) if values else template


def translate_in(locale: str, context: str, text: str) -> str:
    """A text whose translation depends on where it is shown (gettext's pgettext): "Open" as a status."""
    return translations(locale).get((context, text), text)


def label(locale: str, kind: str, value: str | None) -> str:
    """The display name of an enumerated value (a status, a grade, a role ...)."""
    if value is None:
        return ""
    english = LABELS.get(kind, {}).get(value)
    return value if english is None else translate_in(locale, kind, english)


def field_name(locale: str, key: str) -> str:
    """A form field (`price_minor`) as the form names it: 价格 / Price."""
    english = FIELDS.get(key)
    return key if english is None else translate_in(locale, "field", english)


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return format_decimal(value, format="#,##0." + "0" * digits if digits else "#,##0", locale=NUMBERS)


def plain(value: float | int | None) -> str:
    """A bound or key as people write it: 100,000 rather than 100000.0; at most six significant digits."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    shown = value if isinstance(value, int) else Decimal(f"{value:.6g}")
    return format_decimal(shown, locale=NUMBERS, decimal_quantization=False)


def value(item: object) -> str:
    """A released value: whole numbers as such, others with two decimals; text as it is."""
    if isinstance(item, bool) or not isinstance(item, int | float):
        return "—" if item is None else str(item)
    whole = isinstance(item, int) or item.is_integer()
    return number(int(item) if whole else item, 0 if whole else 2)


def money(minor: int | None, currency: str = "CNY") -> str:
    """Minor units as CLDR writes them for China: ¥1,234.50, -¥0.05, US$1.00."""
    if minor is None:
        return "—"
    return format_currency(Decimal(minor).scaleb(-2), currency, locale=NUMBERS)


def epsilon(value: float | None) -> str:
    """ε as analysts write it: four significant digits, scientific below 10⁻⁴ (not a locale's number)."""
    if value is None:
        return "—"
    return f"{value:.4g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.2e}"


def when(locale: str, at: datetime | None, with_time: bool = True) -> str:
    """A moment in China Standard Time, as CLDR writes the date: 2026年11月30日 11:31 / 30 Nov 2026 11:31."""
    if at is None:
        return "—"
    local = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(CST)
    shown = format_skeleton("yMMMd", local, locale=CLDR[locale])
    return f"{shown} {format_skeleton('Hm', local, locale=CLDR[locale])}" if with_time else shown


DIGITS_CAPITAL = "零壹贰叁肆伍陆柒捌玖"


def rmb_capital(minor: int) -> str:
    """An amount in fen written the way payment documents require (大写): 12500000 → 壹拾贰万伍仟元整."""
    yuan, fen = divmod(max(minor, 0), 100)
    text = _capital_integer(yuan) + "元" if yuan else ""
    jiao, cent = divmod(fen, 10)
    if not fen:
        return (text or "零元") + "整"
    if jiao:
        text += DIGITS_CAPITAL[jiao] + "角"
    elif yuan:
        text += "零"
    return text + (DIGITS_CAPITAL[cent] + "分" if cent else "")


def _capital_integer(n: int) -> str:
    groups, units = [], ["", "万", "亿", "万亿"]
    while n:
        n, group = divmod(n, 10000)
        groups.append(group)
    text, zero_pending = "", False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero_pending = bool(text)
            continue
        if text and (zero_pending or group < 1000):
            text += "零"
        text += _capital_group(group) + units[index]
        zero_pending = False
    return text


def _capital_group(n: int) -> str:
    text, zero = "", False
    for value, unit in ((1000, "仟"), (100, "佰"), (10, "拾"), (1, "")):
        digit, n = divmod(n, value)
        if digit:
            text += ("零" if zero and text else "") + DIGITS_CAPITAL[digit] + unit
            zero = False
        else:
            zero = bool(text)
    return text
