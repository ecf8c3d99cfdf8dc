"""The pages' translations: every text the code and templates show has its Chinese in the catalog, intact."""

from __future__ import annotations

import re
from pathlib import Path
from string import Formatter

from babel.messages.catalog import Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po

from web import i18n
from web.labels import FIELDS, LABELS

ROOT = Path(__file__).resolve().parents[2]


def extracted() -> dict[tuple[str | None, str], list[str]]:
    """(context, msgid) → where it is used, found as `make messages` finds them (babel.cfg, its keywords)."""
    flags = re.search(r"^BABEL_KEYWORDS := (.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert flags, "the Makefile names the extraction keywords"
    keywords = {**DEFAULT_KEYWORDS, **parse_keywords(flags.group(1).replace("-k ", "").split())}
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[tuple[str | None, str], list[str]] = {}
    for filename, line, message, _, context in extract_from_dir(ROOT, method_map, options_map, keywords=keywords):
        msgid = message if isinstance(message, str) else message[0]
        found.setdefault((context, msgid), []).append(f"{filename}:{line}")
    return found


def zh_catalog() -> dict[tuple[str | None, str], Message]:
    with i18n.catalog_path("zh-CN").open("rb") as po:
        return {(m.context, m.id): m for m in read_po(po) if isinstance(m.id, str) and m.id}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name is not None}


def test_every_text_of_the_code_and_templates_has_its_chinese() -> None:
    found, catalog = extracted(), zh_catalog()
    assert len(found) > 900 and ("status", "Published") in found and (None, "Wrong code") in found  # the extractors ran
    missing = {f"{context + ': ' if context else ''}{msgid} ({where[0]})" for (context, msgid), where in found.items()
               if (m := catalog.get((context, msgid))) is None or not m.string or m.fuzzy}
    assert not missing, "no Chinese (or only a fuzzy guess) in web/locale/zh_CN/LC_MESSAGES/messages.po for " \
        f"{sorted(missing)}: run `make messages` and translate them"


def test_every_label_and_field_name_has_its_chinese() -> None:
    catalog = zh_catalog()
    names = {(kind, english) for kind, values in LABELS.items() for english in values.values()}
    names |= {("field", english) for english in FIELDS.values()}
    missing = sorted(f"{kind}: {english}" for kind, english in names
                     if (m := catalog.get((kind, english))) is None or not m.string or m.fuzzy)
    assert not missing, f"web/labels.py names without Chinese (msgctxt is the kind): {missing}"


def test_each_translation_keeps_the_placeholders_of_its_english() -> None:
    changed = {m.id: m.string for m in zh_catalog().values()
               if isinstance(m.string, str) and m.string and placeholders(str(m.id)) != placeholders(m.string)}
    assert not changed, f"translations that drop, add or rename a {{placeholder}}: {changed}"


def test_the_pages_read_their_chinese_from_the_catalog() -> None:
    assert i18n.translate("zh-CN", "Sign in with {name}", name="政务通") == "使用政务通登录"
    assert i18n.translate("en", "Sign in with {name}", name="GovPass") == "Sign in with GovPass"
    assert i18n.label("zh-CN", "status", "open") == "待支付" and i18n.translate("zh-CN", "Open") == "打开"
    assert i18n.label("zh-CN", "status", "published") == "已发布" and i18n.label("en", "grade", "core") == "Core"
    assert i18n.field_name("zh-CN", "price_minor") == "价格" and i18n.translate("zh-CN", "Not in the catalog") == \
        "Not in the catalog"
