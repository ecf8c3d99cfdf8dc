"""Uploads: Chinese encodings are read right or refused (never garbled), malformed files get a 422 naming
the line, numbers stay numbers and codes keep their zeros, Parquet works, and size is limited."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from core.auth import Role
from core.config import get_settings
from tests.flow import ok, staff
from tests.market.steps import API

DISTRICTS = "区县,人数,编码\n鼓楼区,3,0591\n台江区,4,0592\n仓山区,5,0593\n"


@pytest.fixture
def provider(client: TestClient) -> dict[str, str]:
    return staff(client, "p@gov.test", Role.provider, "统计局")


def _upload(client: TestClient, headers: dict[str, str], content: bytes, filename: str = "d.csv",
            encoding: str | None = None, name: str = "districts") -> Any:
    data = {"name": name} | ({"encoding": encoding} if encoding else {})
    return client.post(f"{API}/datasets", headers=headers, data=data, files={"file": (filename, content, "text/csv")})


def _refused(response: Any, *words: str) -> str:
    assert response.status_code == 422 and response.json()["type"] == "invalid-dataset", response.text
    detail: str = response.json()["detail"]
    assert all(w in detail for w in words), detail
    return detail


@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_chinese_text_survives_every_common_encoding(client: TestClient, provider: dict[str, str],
                                                     codec: str) -> None:
    uploaded = ok(_upload(client, provider, DISTRICTS.encode(codec)), 201)
    assert [c["name"] for c in uploaded["columns"]] == ["区县", "人数", "编码"]
    profile = ok(client.get(f"{API}/datasets/{uploaded['id']}/profile", headers=provider))
    assert profile["columns"][0]["distinct"] == 3


def test_big5_is_refused_unless_the_provider_names_it(client: TestClient, provider: dict[str, str]) -> None:
    content = "區縣,人數\n鼓樓區,3\n臺江區,4\n".encode("big5")
    _refused(_upload(client, provider, content), "encoding")  # GBK would decode it into nonsense
    uploaded = ok(_upload(client, provider, content, encoding="big5"), 201)
    assert uploaded["encoding"] == "big5" and uploaded["columns"][0]["name"] == "區縣"


def test_a_wrongly_named_encoding_is_refused_with_the_line(client: TestClient, provider: dict[str, str]) -> None:
    content = ("a,b\n" + "x,1\n" * 4 + "鼓楼区,2\n").encode("gbk")
    _refused(_upload(client, provider, content, encoding="utf-8"), "Line 6", "utf-8")
    _refused(_upload(client, provider, b"a,b\n1,2\n", encoding="klingon"), "Unknown encoding")


def test_latin_1_bytes_are_never_read_as_chinese(client: TestClient, provider: dict[str, str]) -> None:
    _refused(_upload(client, provider, "name,n\ncafé,1\nnaïve,2\n".encode("latin-1")), "encoding")


@pytest.mark.parametrize(("content", "words"), [
    (b"", ("empty",)),
    (b"\n\n", ("empty",)),
    (b"a,b\n", ("no rows",)),
    (b"a,b\n1,2\n3\n4,5\n", ("Line 3", "1 field", "header has 2")),
    (b"a,b\n1,2\n3,4\n5,6,7\n", ("Line 4", "3 fields")),
    (b'a,b\n1,"x,y"\n2,"q"\n3,4,5\n', ("Line 4", "3 fields")),
])
def test_malformed_csv_names_the_line(client: TestClient, provider: dict[str, str], content: bytes,
                                      words: tuple[str, ...]) -> None:
    _refused(_upload(client, provider, content), *words)


def test_a_bad_number_in_a_numeric_column_names_its_line_and_value(client: TestClient,
                                                                    provider: dict[str, str]) -> None:
    rows = [f"r{i},{i * 10}" for i in range(30)]
    rows.insert(12, "r99,12..5")  # line 14: the header is line 1
    content = ("id,amount\n" + "\n".join(rows) + "\n").encode()
    _refused(_upload(client, provider, content), "Line 14", "'amount'", "'12..5'", "not a number")


def test_numbers_are_typed_and_codes_keep_their_leading_zeros(client: TestClient, provider: dict[str, str]) -> None:
    lines = "".join(f'{i},"{i * 1000:,}",{i / 4},0{i % 9 + 1}\n' for i in range(1, 25))
    uploaded = ok(_upload(client, provider, ("n,amount,share,code\n" + lines).encode()), 201)
    assert {c["name"]: c["dtype"] for c in uploaded["columns"]} == {
        "n": "int", "amount": "float", "share": "float", "code": "string"}


def test_parquet_uploads_keep_their_types(client: TestClient, provider: dict[str, str]) -> None:
    buffer = io.BytesIO()
    pl.DataFrame({"区县": ["鼓楼区", "台江区"], "n": [1, 2], "ok": [True, False]}).write_parquet(buffer)
    uploaded = ok(_upload(client, provider, buffer.getvalue(), "d.parquet"), 201)
    assert [c["dtype"] for c in uploaded["columns"]] == ["string", "int", "bool"] and uploaded["encoding"] is None
    _refused(_upload(client, provider, b"PAR1 this is not parquet", "x.parquet"), "Parquet")


@pytest.fixture
def one_megabyte_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SHUYU_MAX_UPLOAD_MB", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_files_over_the_size_limit_are_refused(client: TestClient, provider: dict[str, str],
                                               one_megabyte_limit: None) -> None:
    big = b"a,b\n" + b"1,2\n" * 300_000
    response = _upload(client, provider, big)
    assert response.status_code == 413 and response.json()["type"] == "upload-too-large"


def test_upload_refusals_also_say_why_in_chinese(client: TestClient) -> None:
    provider = staff(client, "zh@gov.test", Role.provider, "统计局")
    for content, words in ((b"", "文件为空"), (b"a,b\n1,2\n3,4,5\n", "第 3 行有 3 个字段")):
        response = client.post("/api/v1/datasets", headers=provider, data={"name": "bad"},
                               files={"file": ("bad.csv", content, "text/csv")})
        assert response.status_code == 422 and words in response.json()["detail_zh"], response.text
