"""Reading an upload, in memory: CSV (UTF-8, GBK/GB18030, UTF-16 or the encoding named), Excel or Parquet,
into a typed frame.

Every refusal is a 422 that names the line (or row) and says what to do. An encoding is used only if it
decodes the whole file strictly, and only UTF-8, UTF-16 and GB18030 are read without asking: any other
encoding charset-normalizer recognises (Big5, Latin-1…) must be named by the provider, because such bytes
also decode as GB18030 without error into nonsense, which must never be stored silently. Missing-value
markers, encodings and Excel sheets are read in `market.cells`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from market.cells import (
    DEFAULT_MARKERS,
    MARKER_LIKE,
    MissingCount,
     blank_markers,
    detect_encoding,
    is_excel,
    marker_hint,
    markers,
    read_excel,
)
from market.errors import InvalidDataset
from market.limits import check_shape

NUMBER_SHARE = 0.9  # a column this numeric with a few non-numbers has typos, not text
MIN_NUMERIC_VALUES = 10
SAMPLE = 1000
NUMBER_LIKE = r"^[\s\d.,+\-eE%¥$￥]*\d[\s\d.,+\-eE%¥$￥]*$"
# Markers a provider did not name still make a numeric column's refusal name the row, not turn it to text.
MISSING_MARKERS = [m.lower() for m in (*DEFAULT_MARKERS, *MARKER_LIKE)]
THOUSANDS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$|^[+-]?\d{1,3}(\.\d+)?$"
ENCODING_NAMES = {"gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030", "utf8": "utf-8"}


@dataclass(frozen=True)
class Table:
    frame: pl.DataFrame
    encoding: str | None  # None for Parquet and Excel
    missing: tuple[MissingCount, ...] = ()  # per column, what was read as missing


def read_table(data: bytes, filename: str, encoding: str | None = None,
               missing_values: str | Sequence[str] | None = None) -> Table:
    """Parse an uploaded CSV, Excel or Parquet file; a 422 naming the problem's line otherwise.

    `missing_values` replaces the default missing-value markers (`market.cells.DEFAULT_MARKERS`)."""
    if not data.strip():
        raise InvalidDataset("The file is empty: upload a CSV with a header line and at least one row",
                             zh="文件为空：请上传包含表头行和至少一行数据的 CSV")
    check_shape(data, filename)
    in_force = markers(missing_values)
    if data[:4] == b"PAR1" or filename.lower().endswith(".parquet"):
        frame, missing = blank_markers(_parquet(data), in_force)
        return Table(frame, None, tuple(missing))
    if is_excel(data, filename):
        frame, missing = _typed_frame(_drop_blank(read_excel(data)), "", in_force)
        return Table(frame, None, tuple(missing))
    text, used = decode(data, encoding)
    frame, missing = _csv(text, in_force)
    return Table(frame, used, tuple(missing))


def _parquet(data: bytes) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InvalidDataset(f"The Parquet file could not be read: {str(exc).splitlines()[0]}") from None
    if frame.width == 0 or frame.height == 0:
        raise InvalidDataset("The file has no rows", zh="文件中没有数据行")
    return frame


def decode(data: bytes, encoding: str | None) -> tuple[str, str]:
    """The text and the encoding used: the provider's, or the one `market.cells.detect_encoding` is sure of."""
    name = encoding.strip().lower() if encoding else detect_encoding(data)
    name = ENCODING_NAMES.get(name, name)
    return _strict(data, name), name


def _strict(data: bytes, name: str) -> str:
    try:
        text = data.decode("utf-8-sig" if name == "utf-8" else name)
    except LookupError:
        raise InvalidDataset(f"Unknown encoding {name!r}: use utf-8, gbk, gb18030, big5, latin-1, ...") from None
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InvalidDataset(f"Line {line} is not valid {name} (byte {exc.start}): check the file's encoding",
                             zh=f"第 {line} 行不是有效的 {name} 文本（第 {exc.start} 字节）：请检查文件编码") from None
    return text


def _csv(text: str, in_force: Sequence[str]) -> tuple[pl.DataFrame, list[MissingCount]]:
    try:
        frame = pl.read_csv(text.encode(), infer_schema_length=0)
    except pl.exceptions.NoDataError:
        raise InvalidDataset("The file is empty: upload a CSV with a header line and at least one row",
                             zh="文件为空：请上传包含表头行和至少一行数据的 CSV") from None
    except pl.exceptions.PolarsError as exc:
        ragged = _ragged(text)
        if ragged:
            raise InvalidDataset(ragged[0], zh=ragged[1]) from None
        raise InvalidDataset(f"The file could not be parsed as CSV: {str(exc).splitlines()[0]}",
                             zh="文件无法按 CSV 解析：请检查分隔符、引号和编码") from None
    blank = pl.all_horizontal(pl.all().is_null())  # blank lines (and lines of empty fields)
    if not _fields_add_up(text, frame.width, frame.height - int(frame.select(blank.sum()).item())):
        ragged = _ragged(text, frame.width)
        if ragged:
            raise InvalidDataset(ragged[0], zh=ragged[1])
    return _typed_frame(_drop_blank(frame), text, in_force)


def _drop_blank(frame: pl.DataFrame) -> pl.DataFrame:
    """Without blank lines (and lines of empty fields); refused when nothing is left."""
    frame = frame.filter(~pl.all_horizontal(pl.all().is_null()))
    if frame.height == 0:
        raise InvalidDataset("The file has a header line but no rows", zh="文件只有表头行，没有数据行")
    return frame


def _typed_frame(frame: pl.DataFrame, text: str, in_force: Sequence[str]) -> tuple[pl.DataFrame, list[MissingCount]]:
    """Missing-value markers made null (and counted), then each column typed."""
    frame, missing = blank_markers(frame, in_force)
    return frame.with_columns([_typed(frame[name], text) for name in frame.columns]), missing


def _fields_add_up(text: str, width: int, rows: int) -> bool:
    """Polars refuses rows with too many fields, so when no field is quoted and the commas add up to
    exactly (width - 1) per line, no row can have too few either: the line-by-line scan is skipped."""
    return '"' not in text and text.count(",") == (width - 1) * (rows + 1)


def _ragged(text: str, width: int | None = None) -> tuple[str, str] | None:
    """The first line whose number of fields differs from the header's, as a sentence (English, Chinese).

    Polars fills short rows with nulls without a word, so this is checked on every upload: by counting
    commas per line in Polars when nothing is quoted, with Python's csv reader otherwise."""
    found = _ragged_quoted(text, width) if '"' in text else _ragged_plain(text, width)
    if found is None:
        return None
    line, fields, width = found
    return (f"Line {line} has {fields} field{'s' * (fields != 1)} but the header has {width}: fix that row "
            "(a missing or stray comma, or a value with a comma that needs quotes)",
            f"第 {line} 行有 {fields} 个字段，而表头有 {width} 个：请修正该行"
            "（缺少或多出逗号，或含逗号的值需要加引号）")


def _ragged_plain(text: str, width: int | None) -> tuple[int, int, int] | None:
    lines = pl.Series([text]).str.split("\n").explode().str.strip_chars_end("\r")
    counts = lines.str.count_matches(",", literal=True) + 1
    width = width or int(counts[0])
    bad = ((counts != width) & (lines.str.len_bytes() > 0)).arg_true()
    return (int(bad[0]) + 1, int(counts[int(bad[0])]), width) if len(bad) else None


def _ragged_quoted(text: str, width: int | None) -> tuple[int, int, int] | None:
    reader = csv.reader(io.StringIO(text))
    width = width or len(next(reader, []))
    for row in reader:
        if row and len(row) != width:
            return reader.line_num, len(row), width
    return None


def _typed(column: pl.Series, text: str) -> pl.Series:
    """Numbers become numbers; a mostly numeric column with a few non-numbers is refused, naming the row."""
    values = column.str.strip_chars()
    present = values.is_not_null() & (values != "")
    filled = int(present.sum())
    if filled == 0 or _clearly_text(values.filter(present).head(SAMPLE)):
        return column
    if _has_leading_zeros(values):  # codes such as 0591 or 000123 are text: an integer would drop the zeros
        return column
    for dtype in (pl.Int64, pl.Float64):
        parsed = values.cast(dtype, strict=False)
        failed = present & parsed.is_null()
        if not failed.any():
            return parsed.alias(column.name)
    if values.filter(present).str.contains(THOUSANDS).all():  # 1,234.5 written with separators, every one
        return values.str.replace_all(",", "").cast(pl.Float64).alias(column.name)
    lowered = values.str.to_lowercase()
    if lowered.filter(present).is_in(["true", "false"]).all():
        return (lowered == "true").alias(column.name)
    parsed = values.str.replace_all(",", "").cast(pl.Float64, strict=False)
    failed = present & values.cast(pl.Float64, strict=False).is_null()
    if filled >= MIN_NUMERIC_VALUES and 1 - failed.sum() / filled >= NUMBER_SHARE and _typos(values.filter(failed)):
        row = int(failed.arg_true()[0])
        hint = " (remove the thousands separators)" if parsed[row] is not None else ""
        hint_zh = "（请去掉千位分隔符）" if hint else ""
        marker, marker_zh = marker_hint(str(values[row]))
        raise InvalidDataset(f"{_where(row, text)}, column {column.name!r}: {values[row]!r} is not a number"
                             f"{hint}; fix it, or leave the field empty if the value is missing{marker}",
                             zh=f"{_where_zh(row, text)}，列「{column.name}」：「{values[row]}」不是数字{hint_zh}；"
                                f"请修正，缺失的值可留空{marker_zh}")
    return column


def _clearly_text(sample: pl.Series) -> bool:
    """A cheap look at the first values spares text columns the full numeric tests."""
    numeric = sample.cast(pl.Float64, strict=False).is_not_null() | sample.str.contains(THOUSANDS)
    booleans = sample.str.to_lowercase().is_in(["true", "false"])
    return bool(numeric.mean() < NUMBER_SHARE and not booleans.all())  # type: ignore[operator]


def _typos(bad: pl.Series) -> bool:
    """Whether the non-numbers look like broken numbers (12..5, 1 2 3) or missing-value markers (N/A, —),
    rather than codes such as an ID number ending in X, which make the column text."""
    return bool((bad.str.contains(NUMBER_LIKE) | bad.str.to_lowercase().is_in(MISSING_MARKERS)).all())


def _has_leading_zeros(values: pl.Series) -> bool:
    return bool(values.str.contains(r"^[+-]?0\d").any())


def _where(row: int, text: str) -> str:
    # Without quoted fields every record is one line, so the line number is exact.
    return f"Line {row + 2}" if '"' not in text else f"Data row {row + 1}"


def _where_zh(row: int, text: str) -> str:
    return f"第 {row + 2} 行" if '"' not in text else f"第 {row + 1} 条数据"
