"""How the cells of a provider's file are read: missing-value markers, text encodings and Excel sheets.

Real files from departments and from R or pandas mark a missing value in many ways (`NA`, `#N/A`, `\\N`,
`—`, `暂无`, an empty cell). Each marker is read as missing — a null, which DP aggregates skip or fill —
and counted per column, so the provider sees exactly what was taken as missing and can name other
markers (or fewer) when a marker is a real value in their data (`无` may be a category).

Encodings are detected by charset-normalizer, never guessed by hand; the provider may always name one.
Excel workbooks are read by fastexcel (calamine, in Rust), every cell as text, so that an Excel column
goes through the same typing rules as a CSV column.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl
from charset_normalizer import from_bytes

from market.errors import InvalidDataset

DEFAULT_MARKERS = ("NA", "N/A", "n/a", "#N/A", "NULL", "null", "\\N", "NaN", "—", "无", "暂无")
# Other ways of saying "missing" that are not read as such by default: named in a refusal's hint.
MARKER_LIKE = ("-", "--", "none", "None", "空", "#DIV/0!", "?", ".", "na", "nan", "#NULL!", "N.A.")
GB_FAMILY = {"gb2312", "gbk", "gb18030", "cp936", "hz"}
SAMPLE_BYTES = 1_000_000  # charset-normalizer reads chunks of this much; the whole file is then decoded strictly
EXCEL_MAGIC = b"PK\x03\x04"
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")


@dataclass(frozen=True)
class MissingCount:
    """How many cells of one column were read as missing, by marker ("" for an empty cell)."""

    column: str
    count: int
    markers: dict[str, int] = field(default_factory=dict)

    def sentence(self) -> tuple[str, str]:
        """What was read as missing, in English and Chinese."""
        named = [f"{'empty' if m == '' else repr(m)} ×{n}" for m, n in self.markers.items()]
        named_zh = [f"{'空单元格' if m == '' else '「' + m + '」'} {n} 个" for m, n in self.markers.items()]
        return (f"Column {self.column!r}: {self.count} missing value{'s' * (self.count != 1)} "
                f"({', '.join(named)})" if named else f"Column {self.column!r}: {self.count} missing values",
                f"列「{self.column}」：{self.count} 个缺失值" + (f"（{'，'.join(named_zh)}）" if named_zh else ""))


def markers(named: str | Sequence[str] | None) -> tuple[str, ...]:
    """The markers in force: the defaults, or the provider's own list (comma-separated) instead of them.

    An empty cell is always missing; a provider who names markers names all of them, so a default
    marker that is a real value in their data (`无`) can be left out."""
    if named is None:
        return DEFAULT_MARKERS
    items = named.split(",") if isinstance(named, str) else list(named)
    return tuple(dict.fromkeys(m.strip() for m in items if m.strip()))


def blank_markers(frame: pl.DataFrame, in_force: Sequence[str]) -> tuple[pl.DataFrame, list[MissingCount]]:
    """Text columns with their markers (and empty or blank cells) made null, and the count per column."""
    counts: list[MissingCount] = []
    columns = []
    for name in frame.columns:
        column = frame[name]
        if column.dtype != pl.String:
            if column.null_count():
                counts.append(MissingCount(name, column.null_count(), {"": column.null_count()}))
            continue
        stripped = column.str.strip_chars()
        blank = stripped.is_null() | (stripped == "") | stripped.is_in(list(in_force))
        if not blank.any():
            continue
        hits = stripped.filter(blank).fill_null("").value_counts(sort=True)
        found = {str(m): int(n) for m, n in hits.iter_rows()}
        if "" in found:  # empty cells first, then markers by frequency
            found = {"": found.pop(""), **found}
        counts.append(MissingCount(name, sum(found.values()), found))
        columns.append(pl.when(blank).then(None).otherwise(column).alias(name))
    return (frame.with_columns(columns) if columns else frame), counts


def marker_hint(value: str) -> tuple[str, str]:
    """A refusal's hint when a value that is not a number looks like a way of writing "missing"."""
    if value.strip() not in MARKER_LIKE:
        return "", ""
    return (f"; if {value.strip()!r} marks a missing value, name it in the missing_values field",
            f"；如「{value.strip()}」表示缺失值，请在 missing_values 字段中注明")


def detect_encoding(data: bytes) -> str:
    """The file's encoding when it is certain enough to read without asking: UTF-8, UTF-16 or GB18030.

    Anything else that charset-normalizer recognises (Big5, Latin-1, Shift_JIS…) is refused with its
    name, for the provider to confirm: mis-decoded bytes must never be stored silently."""
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return "utf-16"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    matches = from_bytes(data[:SAMPLE_BYTES])
    # A Chinese platform's prior: when GB18030 is among the readings charset-normalizer finds plausible, it
    # is the one (a short GBK file can look Korean to it); Big5 or Latin-1 bytes never pass as GB18030.
    if any(m.encoding in GB_FAMILY for m in matches):
        return "gb18030"
    best = matches.best()
    name = best.encoding if best is not None else None
    if name is None:
        raise InvalidDataset("The file's text encoding could not be recognised: say it (the `encoding` field, "
                             "e.g. gbk, big5 or latin-1)",
                             zh="无法识别文件的文本编码：请注明其编码（encoding 字段，如 gbk、big5、latin-1）")
    label = name.replace("_", "-")
    raise InvalidDataset(f"The file is not UTF-8 or GBK/GB18030 text; it looks like {label}: say its encoding "
                         f"(the `encoding` field: {label} to confirm, or gbk to insist)",
                         zh=f"文件不是 UTF-8 或 GBK/GB18030 文本，看起来是 {label}：请注明其编码"
                            f"（encoding 字段：确认请填 {label}，确为 gbk 请填 gbk）")


def is_excel(data: bytes, filename: str) -> bool:
    return filename.lower().endswith(EXCEL_SUFFIXES) or (
        data[:4] == EXCEL_MAGIC and not filename.lower().endswith((".csv", ".txt")))


def read_excel(data: bytes) -> pl.DataFrame:
    """The first sheet of a workbook, its first row the header, every cell as text (typed later, like CSV)."""
    import fastexcel

    try:
        reader = fastexcel.read_excel(data)
        sheet = reader.load_sheet(0, header_row=0, dtypes="string")
        frame = sheet.to_polars()
    except Exception as exc:  # fastexcel raises its own error classes, one per calamine failure
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidDataset(f"The Excel file could not be read: {first}",
                             zh="无法读取该 Excel 文件：请确认其为 .xlsx 格式且未加密") from None
    if frame.width == 0 or frame.height == 0:
        raise InvalidDataset("The first sheet of the workbook has no rows", zh="工作簿的第一个工作表中没有数据行")
    unnamed = [c for c in frame.columns if c.startswith("__UNNAMED__")]
    if unnamed:
        raise InvalidDataset("Every column of the first sheet needs a name in its first row",
                             zh="第一个工作表的每一列都需要在第一行写上列名")
    return frame.select(pl.all().cast(pl.String))

