"""Receiving an upload: limits before work, and nothing of it on disk.

Starlette's form parser spools a file part to a temporary file on disk past a size, and FastAPI reads the
whole body before the route's dependencies run, so an anonymous caller could make the server read (and
write) gigabytes before being told 401. The upload routes therefore declare no body parameters: the caller
is authorised first, the `Content-Length` is checked against the limit from the headers alone, and only then
is the body streamed through python-multipart's push parser into a memory buffer that stops at the limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from core.config import get_settings
from core.errors import DomainError, InvalidInput

FIELD_LIMIT = 64 * 1024  # a form field (name, encoding, csrf) is a short string
ENVELOPE = 64 * 1024  # multipart boundaries and part headers around the file


class UploadTooLarge(DomainError):
    status = 413
    type = "upload-too-large"
    title = "The file is too large"


@dataclass
class UploadForm:
    """A multipart form held in memory: its text fields and its one file."""

    fields: dict[str, str] = field(default_factory=dict)
    filename: str = ""
    data: bytes = b""
    has_file: bool = False


def upload_limit() -> int:
    return get_settings().max_upload_mb * 1024 * 1024


def too_large() -> UploadTooLarge:
    mb = get_settings().max_upload_mb
    return UploadTooLarge(f"Files up to {mb} MB are accepted; split or compress it",
                          zh=f"文件不能超过 {mb} MB：请拆分或压缩后再上传")


def check_length(request: Request, limit: int) -> None:
    """Refuse from the headers alone a body declared larger than the limit allows."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + ENVELOPE:
        raise too_large()


class _Collector:
    """python-multipart callbacks that keep each part in memory, refusing past the limits."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.form = UploadForm()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._buffer = bytearray()

    def callbacks(self) -> dict[str, Any]:
        return {"on_part_begin": self._part_begin, "on_part_data": self._part_data, "on_part_end": self._part_end,
                "on_header_field": self._field, "on_header_value": self._value, "on_header_end": self._header_end}

    def _part_begin(self) -> None:
        self._headers, self._buffer = {}, bytearray()

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower().decode("latin-1")] = bytes(self._header_value)
        self._header_field, self._header_value = bytearray(), bytearray()

    def _disposition(self) -> dict[bytes, bytes]:
        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        return options

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        is_file = b"filename" in self._disposition()
        if len(self._buffer) + (end - start) > (self.limit if is_file else FIELD_LIMIT):
            raise too_large() if is_file else InvalidInput("A form field is longer than 64 KB",
                                                           zh="表单字段超过 64 KB")
        self._buffer += data[start:end]

    def _part_end(self) -> None:
        options = self._disposition()
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            if self.form.has_file:
                raise InvalidInput("Send one file per upload", zh="每次只能上传一个文件")
            self.form.has_file = True
            self.form.filename = options[b"filename"].decode("utf-8", "replace")
            self.form.data = bytes(self._buffer)
        else:
            self.form.fields[name] = self._buffer.decode("utf-8", "replace")
        self._buffer = bytearray()


def _boundary(request: Request) -> bytes:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise InvalidInput("Send the file as multipart/form-data with the fields 'file' and 'name'",
                           zh="请以 multipart/form-data 上传，包含 file 和 name 字段")
    return options[b"boundary"]


async def read_form(request: Request, limit: int | None = None) -> UploadForm:
    """The request's multipart form, in memory; 413 as soon as the file passes the limit (or its
    declared length would). Read once per request: a second call returns the same form."""
    cached: UploadForm | None = getattr(request.state, "upload_form", None)
    if cached is not None:
        return cached
    limit = upload_limit() if limit is None else limit
    check_length(request, limit)
    collector = _Collector(limit)
    parser = MultipartParser(_boundary(request), collector.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except DomainError:
        raise
    except Exception:  # python-multipart's own errors for a malformed body
        raise InvalidInput("The multipart body is malformed", zh="multipart 请求体格式错误") from None
    request.state.upload_form = collector.form
    return collector.form


async def read_upload(request: Request) -> UploadForm:
    """The upload form with its required parts: a file and a dataset name."""
    form = await read_form(request)
    if not form.has_file:
        raise InvalidInput("file: Field required", zh="缺少文件（file 字段）")
    if not form.fields.get("name", "").strip():
        raise InvalidInput("name: Field required", zh="缺少数据集名称（name 字段）")
    return form


UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file", "name"],
            "properties": {
                "file": {"type": "string", "format": "binary", "description": "CSV, Excel (.xlsx) or Parquet"},
                "name": {"type": "string", "minLength": 1},
                "encoding": {"type": "string", "description": "utf-8, gbk, gb18030, big5, latin-1, ..."},
                "missing_values": {"type": "string", "description": "comma-separated markers of a missing value, "
                                   "replacing the defaults (NA, N/A, #N/A, NULL, \\N, —, 无, 暂无, empty)"},
                "changelog": {"type": "string", "description": "one line telling licensees what this version "
                              "changes"},
            },
        }}},
    },
}
