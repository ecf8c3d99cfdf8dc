"""Limits before work: the caller and the declared size are checked before a body is read, a file's rows,
columns and decompressed size before it is decoded, and no upload touches disk unencrypted."""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from core.auth import Role
from tests.figures import record
from tests.flow import staff
from tests.market.steps import API

BOUNDARY = "shuyuboundary7MA4YWxkTrZu0gW"
MB = 1024 * 1024


@pytest.fixture
def provider(client: TestClient) -> dict[str, str]:
    return staff(client, "p@gov.test", Role.provider, "统计局")


def _multipart(name: str, filename: str, head: bytes) -> tuple[bytes, bytes]:
    """The multipart envelope around one file part: what comes before the file bytes, and after."""
    before = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{name}\r\n"
              f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
              "Content-Type: text/csv\r\n\r\n").encode() + head
    return before, f"\r\n--{BOUNDARY}--\r\n".encode()


def _asgi_upload(app: Any, headers: dict[str, str], chunks: list[bytes], total: int,
                 on_chunk: Callable[[int], None] = lambda _: None) -> tuple[int, int, bytes]:
    """POST the chunks to /api/v1/datasets straight through ASGI; returns the status, how many chunks the
    server asked for, and the body. Counting `receive` calls shows whether the body was read."""
    read = 0
    sent: dict[str, Any] = {"status": 0, "body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read >= len(chunks):
            await asyncio.sleep(3600)  # the server disconnecting ends the test before this
        on_chunk(read)
        read += 1
        return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
        elif message["type"] == "http.response.body":
            sent["body"] += message.get("body", b"")

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": f"{API}/datasets", "raw_path": f"{API}/datasets".encode(), "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers | {
                 "content-type": f"multipart/form-data; boundary={BOUNDARY}", "content-length": str(total)}).items()]}
    asyncio.run(app(scope, receive, send))
    return sent["status"], read, sent["body"]


def _big_chunks(megabytes: int, marker: bytes) -> tuple[list[bytes], int]:
    before, after = _multipart("big", "big.csv", b"id,note\n")
    line = b"1," + marker + b"\n"
    block = line * (MB // len(line))
    chunks = [before, *([block] * megabytes), after]
    return chunks, sum(len(c) for c in chunks)


def test_an_anonymous_upload_is_refused_before_its_body_is_read(client: TestClient) -> None:
    chunks, total = _big_chunks(70, b"anonymous")
    status, read, body = _asgi_upload(client.app, {}, chunks, total)
    assert status == 401, body
    assert read == 0  # not one chunk of the 70 MB was asked for
    record("anonymous 70 MB upload", body_bytes=total, chunks_read=read, status=status,
           held="401 before the body was read")


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
        client: TestClient, provider: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHUYU_MAX_UPLOAD_MB", "1")
    from core.config import get_settings
    get_settings.cache_clear()
    chunks, total = _big_chunks(3, b"too-big")
    status, read, body = _asgi_upload(client.app, provider, chunks, total)
    assert status == 413, body
    assert b"detail_zh" in body and b"upload-too-large" in body
    assert read == 0


def test_an_undeclared_length_is_cut_off_at_the_limit(client: TestClient, provider: dict[str, str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHUYU_MAX_UPLOAD_MB", "1")
    from core.config import get_settings
    get_settings.cache_clear()
    chunks, _ = _big_chunks(8, b"chunked")
    status, read, body = _asgi_upload(client.app, provider, chunks, 0)  # a lying Content-Length of 0
    assert status == 413, body
    assert read < len(chunks)  # it stopped reading once past the limit


def _open_plaintext(marker: bytes, before: set[str]) -> list[str]:
    """Files this process opened since `before` that are unlinked temp files, or that hold the marker."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target in before or not target.startswith("/"):
            continue
        if target.endswith("(deleted)") or target.startswith(tempfile.gettempdir() + "/tmp"):
            found.append(target)
    return found


def _files_with(marker: bytes, root: Path) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and marker in path.read_bytes():
                hits.append(str(path))
        except OSError:
            continue
    return hits


def test_a_large_upload_never_touches_disk_in_plaintext(client: TestClient, provider: dict[str, str],
                                                        data_dir: Path) -> None:
    marker = b"PLAINTEXT-MARKER-" + os.urandom(6).hex().encode()
    temp = Path(tempfile.gettempdir())
    temp_before = {p.name for p in temp.iterdir()}
    fds_before = {os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                  if os.path.exists(f"/proc/self/fd/{fd}")}
    seen: list[str] = []

    def watch(index: int) -> None:  # while the body streams in, chunk by chunk
        seen.extend(_open_plaintext(marker, fds_before))
        seen.extend(str(temp / name) for name in {p.name for p in temp.iterdir()} - temp_before
                    if marker in _head(temp / name))

    chunks, total = _big_chunks(24, marker)
    status, read, body = _asgi_upload(client.app, provider, chunks, total, watch)
    assert status == 201, body
    assert read == len(chunks)
    assert seen == []
    assert _files_with(marker, data_dir) == []  # the stored copy is encrypted
    record("24 MB upload watched on disk", body_bytes=total, checks=read, plaintext_files=len(seen),
           held="no temp file, no unlinked file, stored copy encrypted")
    new = {p.name for p in temp.iterdir()} - temp_before
    assert [n for n in new if marker in _head(temp / n)] == []


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(4 * MB) if path.is_file() else b""
    except OSError:
        return b""


def _parquet_bomb(rows: int) -> bytes:
    """A Parquet file of a few KB that declares `rows` rows: row groups of one repeated null column."""
    group = pa.table({"x": pa.nulls(1_000_000, pa.int64())})
    buffer = io.BytesIO()
    with pq.ParquetWriter(buffer, group.schema, compression="zstd") as writer:
        for _ in range(rows // 1_000_000):
            writer.write_table(group)
    return buffer.getvalue()


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoding a refused file would be the work the limits exist to avoid: make it fail the test."""
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("the file was decoded before its limits were checked")

    monkeypatch.setattr(pl, "read_parquet", refuse)
    monkeypatch.setattr(pl, "read_csv", refuse)


def test_a_parquet_bomb_is_refused_from_its_metadata(client: TestClient, provider: dict[str, str],
                                                     no_decoding: None) -> None:
    bomb = _parquet_bomb(100_000_000)
    assert len(bomb) < 1 * MB
    response = client.post(f"{API}/datasets", headers=provider, data={"name": "bomb"},
                           files={"file": ("bomb.parquet", bomb, "application/octet-stream")})
    assert response.status_code == 413, response.text
    problem = response.json()
    assert problem["type"] == "upload-too-large" and "100,000,000 rows" in problem["detail"]
    assert "行" in problem["detail_zh"]
    record("Parquet bomb", file_bytes=len(bomb), declared_rows=100_000_000, status=response.status_code,
           held="refused from the footer; never decoded")


def test_a_parquet_file_unfolding_past_the_decompressed_limit_is_refused(
        client: TestClient, provider: dict[str, str], no_decoding: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHUYU_MAX_UPLOAD_DECOMPRESSED_MB", "1")
    from core.config import get_settings
    get_settings.cache_clear()
    frame = pl.DataFrame({"x": ["same text value"] * 200_000})
    buffer = io.BytesIO()
    pq.write_table(frame.to_arrow(), buffer, compression="zstd")
    assert len(buffer.getvalue()) < 100_000
    response = client.post(f"{API}/datasets", headers=provider, data={"name": "wide"},
                           files={"file": ("wide.parquet", buffer.getvalue(), "application/octet-stream")})
    assert response.status_code == 413, response.text
    assert "unfolds to" in response.json()["detail"] and response.json()["detail_zh"]


def test_a_csv_with_twenty_thousand_columns_is_refused_before_parsing(
        client: TestClient, provider: dict[str, str], no_decoding: None) -> None:
    header = ",".join(f"c{i}" for i in range(20_000))
    row = ",".join("1" for _ in range(20_000))
    response = client.post(f"{API}/datasets", headers=provider, data={"name": "wide"},
                           files={"file": ("wide.csv", f"{header}\n{row}\n".encode(), "text/csv")})
    assert response.status_code == 413, response.text
    assert "20,000 columns" in response.json()["detail"] and response.json()["detail_zh"]


def test_a_csv_with_too_many_rows_is_refused(client: TestClient, provider: dict[str, str], no_decoding: None,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHUYU_MAX_UPLOAD_ROWS", "100")
    from core.config import get_settings
    get_settings.cache_clear()
    content = "a,b\n" + "1,2\n" * 500
    response = client.post(f"{API}/datasets", headers=provider, data={"name": "long"},
                           files={"file": ("long.csv", content.encode(), "text/csv")})
    assert response.status_code == 413, response.text
    assert "500 rows" in response.json()["detail"]


def test_an_upload_without_a_file_or_name_is_a_clear_422(client: TestClient, provider: dict[str, str]) -> None:
    response = client.post(f"{API}/datasets", headers=provider, data={"name": "x"})
    assert response.status_code == 422 and response.json()["detail_zh"], response.text
    response = client.post(f"{API}/datasets", headers=provider, files={"file": ("a.csv", b"a\n1\n", "text/csv")})
    assert response.status_code == 422 and "name" in response.json()["detail"], response.text
