"""What an upload may unfold into: rows, columns and decompressed bytes, checked before it is decoded.

The upload limit counts the bytes sent; a Parquet file of under 1 MB can declare a hundred million rows,
and a short CSV header can name twenty thousand columns. Parquet's footer states its row count, its
columns and each row group's uncompressed size, so those are read (and refused) before a single page is
decompressed; an Excel workbook's zip directory states each member's uncompressed size; for CSV the header
line and the line count are enough.
"""

from __future__ import annotations

import csv
import io
import zipfile

import pyarrow as pa
import pyarrow.parquet as pq

from core.config import get_settings
from core.errors import DomainError
from market.cells import is_excel
from market.errors import InvalidDataset

DECODED_VALUE_BYTES = 8
HEADER_SCAN = 1024 * 1024  # a header line longer than this is refused as too wide anyway


class UploadTooBig(DomainError):
    """The file unfolds past a limit: too many rows, columns or decompressed bytes."""

    status = 413
    type = "upload-too-large"
    title = "The file unfolds too large"


def check_shape(data: bytes, filename: str) -> None:
    """Refuse an upload whose rows, columns or decompressed size pass the limits, before decoding it."""
    if data[:4] == b"PAR1" or filename.lower().endswith(".parquet"):
        _check_parquet(data)
    elif is_excel(data, filename):
        _check_xlsx(data)
    else:
        _check_csv(data)


def _check_xlsx(data: bytes) -> None:
    """A workbook is a zip: its directory states every member's uncompressed size (a zip bomb shows there)."""
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError):
        raise InvalidDataset("The Excel file could not be read: it is damaged or not an .xlsx workbook",
                             zh="Excel 文件无法读取：文件损坏或不是 .xlsx 工作簿") from None
    _within(0, 0, sum(member.file_size for member in members))


def _check_parquet(data: bytes) -> None:
    try:
        meta = pq.read_metadata(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InvalidDataset(f"The Parquet file could not be read: {str(exc).splitlines()[0] if str(exc) else exc}",
                             zh="Parquet 文件无法读取：文件损坏或不是 Parquet 格式") from None
    encoded = sum(max(meta.row_group(i).total_byte_size, 0) for i in range(meta.num_row_groups))
    # Dictionary and run-length encoding keep even the "uncompressed" size small: a decoded value takes at
    # least 8 bytes in memory (a number, or a string's offset and length), so that is the floor.
    unfolded = max(encoded, meta.num_rows * meta.num_columns * DECODED_VALUE_BYTES)
    _within(meta.num_rows, meta.num_columns, unfolded)


def _check_csv(data: bytes) -> None:
    head = data[:HEADER_SCAN]
    end = head.find(b"\n")
    settings = get_settings()
    if end < 0 and len(data) > HEADER_SCAN:
        _refuse_columns(settings.max_upload_columns + 1)
    first = head[: end if end >= 0 else len(head)].decode("utf-8", "replace")
    columns = max(len(next(csv.reader([first]), [])), 1)
    for sep in ("\t", ";"):  # a delimiter other than the comma names columns too
        columns = max(columns, first.count(sep) + 1)
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    _within(lines - 1, columns, len(data))  # the header is not a row


def _within(rows: int, columns: int, unfolded: int) -> None:
    settings = get_settings()
    if columns > settings.max_upload_columns:
        _refuse_columns(columns)
    if rows > settings.max_upload_rows:
        raise UploadTooBig(f"The file has {rows:,} rows; at most {settings.max_upload_rows:,} are accepted: split it",
                           zh=f"文件有 {rows:,} 行，最多接受 {settings.max_upload_rows:,} 行：请拆分后上传")
    if unfolded > settings.max_upload_decompressed_mb * 1024 * 1024:
        mb = unfolded // (1024 * 1024)
        most = settings.max_upload_decompressed_mb
        raise UploadTooBig(f"The file unfolds to {mb:,} MB; at most {most:,} MB are accepted: split it",
                           zh=f"文件解压后为 {mb:,} MB，最多接受 {most:,} MB：请拆分后上传")


def _refuse_columns(columns: int) -> None:
    limit = get_settings().max_upload_columns
    raise UploadTooBig(f"The file has {columns:,} columns; at most {limit:,} are accepted: keep the columns you list",
                       zh=f"文件有 {columns:,} 列，最多接受 {limit:,} 列：请只保留需要发布的列")
