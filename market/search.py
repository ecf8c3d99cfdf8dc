"""Catalog search that works for Chinese and English, identically on SQLite and PostgreSQL.

Chinese is written without spaces and most words are two characters, so neither SQLite's FTS5
`trigram` tokenizer nor PostgreSQL's pg_trgm can find a two-character word such as 准点. Instead
each listing's text is cut into *terms* stored in `listing_search_terms`, an ordinary table with an
index on `term`:

- every run of CJK characters gives its single characters and its overlapping bigrams
  (公交准点率 → 公 交 准 点 率, 公交 交准 准点 点率);
- Latin text gives lower-cased words and their stems (trips → trips, trip).

A query is cut the same way, except that a CJK run longer than one character gives only its bigrams.
A listing matches when it holds *every* query term (Latin terms also match as prefixes, so `transp`
finds `transport`); its score adds the weight of the field each term was found in (title counts
most, column descriptions least), plus a bonus when the query appears verbatim in the title. No
segmenter dictionary is needed, new words (place names, 准点率) are found as soon as they are
written, and the same plain SQL runs on both databases.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, delete, func, literal, select, union_all
from sqlmodel import Session, col

from market.models import ListingSearchTerm

MAX_KEYS = 200  # per column: enough for districts or categories, not a bulk copy of a code list
WEIGHTS = {"title": 8, "keywords": 5, "provider": 4, "sector": 3, "columns": 2, "description": 1}
MAX_QUERY_TERMS = 16
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[a-z0-9]+")


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def stem(word: str) -> str:
    """A deliberately small English stemmer for the index: plural `s` only (trips → trip)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def query_stem(word: str) -> str:
    """Shorter than `stem` (buses → bus, analyses → analys): a query term is matched as a prefix."""
    if len(word) > 4 and word.endswith("es") and not word.endswith("ies"):
        return word[:-2]
    return stem(word)


def text_terms(text: str) -> set[str]:
    """The terms a document's text is indexed under: each word and its stem, CJK characters and bigrams."""
    text = _normalize(text)
    terms: set[str] = set()
    for run in _CJK.findall(text):
        terms.update(run)
        terms.update(run[i:i + 2] for i in range(len(run) - 1))
    for word in _WORD.findall(text):
        terms.update((word[:64], stem(word)[:64]))
    return terms


def query_terms(query: str) -> tuple[list[str], list[str]]:
    """(CJK terms that must match exactly, Latin stems that must match as prefixes)."""
    text = _normalize(query)
    cjk: list[str] = []
    for run in _CJK.findall(text):
        cjk.extend([run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)])
    latin = [query_stem(w)[:64] for w in _WORD.findall(text)]
    return list(dict.fromkeys(cjk))[:MAX_QUERY_TERMS], list(dict.fromkeys(latin))[:MAX_QUERY_TERMS]


def document_terms(
    title: str, description: str, keywords: Iterable[str], sector: str, provider: str,
    dictionary: dict[str, Any] | None,
) -> dict[tuple[str, str], int]:
    """(term, field) → weight for one listing's public text."""
    # A dimension's keys are public by the dictionary's contract (餐饮, 鼓楼区): people search for them too.
    columns = [" ".join([c.get("name", ""), c.get("description", ""),
                         *(str(k) for k in (c.get("keys") or [])[:MAX_KEYS] if c.get("role") == "dimension")])
               for c in (dictionary or {}).get("columns", []) if c.get("role") != "excluded"]
    fields = {"title": title, "keywords": " ".join(keywords), "provider": provider, "sector": sector,
              "columns": " ".join(columns), "description": description}
    return {(term, field): WEIGHTS[field] for field, text in fields.items() for term in text_terms(text)}


def reindex(session: Session, listing_id: int, terms: dict[tuple[str, str], int]) -> None:
    """Replace a listing's terms (called whenever its public text changes)."""
    session.execute(delete(ListingSearchTerm).where(col(ListingSearchTerm.listing_id) == listing_id))
    session.add_all([ListingSearchTerm(listing_id=listing_id, term=t, field=f, weight=w)
                     for (t, f), w in terms.items()])
    session.flush()


def scores(query: str) -> Select[Any] | None:
    """A subquery of (listing_id, score) for listings holding every term of `query`; None if it has none."""
    cjk, latin = query_terms(query)
    conditions: list[ColumnElement[bool]] = [col(ListingSearchTerm.term) == t for t in cjk]
    conditions += [col(ListingSearchTerm.term).startswith(w) for w in latin]
    if not conditions:
        return None
    parts: list[Any] = [select(col(ListingSearchTerm.listing_id).label("listing_id"), literal(i).label("qi"),
                    col(ListingSearchTerm.weight).label("weight")).where(cond)
             for i, cond in enumerate(conditions)]
    hits = union_all(*parts).subquery("hits")
    return (select(hits.c.listing_id, func.sum(hits.c.weight).label("score"))
            .group_by(hits.c.listing_id)
            .having(func.count(func.distinct(hits.c.qi)) == len(conditions)))


def title_bonus(title: Any, query: str) -> ColumnElement[int]:
    """20 extra points when the whole query appears in the title as typed (case-insensitive)."""
    phrase = _normalize(query).strip()
    return case((and_(literal(bool(phrase)), func.lower(title).contains(phrase, autoescape=True)), 20), else_=0)
