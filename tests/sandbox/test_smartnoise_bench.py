"""bench/smartnoise.py reads SmartNoise's corpus correctly: which literals are queries, which SmartNoise
itself expects to fail, and the dictionary it builds from SmartNoise's metadata. The inputs here are
written for the test; the run against a real checkout happens only when SMARTNOISE_SDK points at one."""

from __future__ import annotations

from pathlib import Path

from bench.smartnoise import (
    Corpus,
    Found,
    excluded,
    find_queries,
    from_python,
    from_sql_file,
    local_sql,
    parse_metadata,
    sample_dtypes,
    table_info,
)

SOURCE = '''
import pytest
from snsql import PrivateReader
from snsql.sql.reader.pandas import PandasReader

def test_ok():
    reader = PandasReader(df, meta)
    private = PrivateReader(reader, meta)
    private.execute("SELECT COUNT(*) FROM PUMS.PUMS")
    reader.execute("SELECT age FROM PUMS.PUMS WHERE age > 100")

def test_err():
    q = "SELECT SUM(income) FROM PUMS.PUMS"
    with pytest.raises(ValueError):
        private.execute(q)
    with pytest.raises(ValueError):
        private.execute("SELECT MAX(age) FROM PUMS.PUMS")
'''

META = """PUMS:
  PUMS:
    PUMS:
      rows: 1000
      max_ids: 2
      age:
        type: int
        lower: 0
        upper: 100
      married:
        type: string
      pid:
        type: int
        private_id: True
"""


def test_python_literals_and_what_smartnoise_expects_to_fail() -> None:
    found = dict(from_python(SOURCE))
    assert found["SELECT COUNT(*) FROM PUMS.PUMS"] is False
    assert found["SELECT SUM(income) FROM PUMS.PUMS"] is True  # assigned, then run under pytest.raises
    assert found["SELECT MAX(age) FROM PUMS.PUMS"] is True  # inside pytest.raises
    assert found["SELECT age FROM PUMS.PUMS WHERE age > 100"] is True  # a non-private reader runs it


def test_sql_files_split_on_semicolons_without_comments() -> None:
    assert from_sql_file("SELECT COUNT(*) FROM PUMS.PUMS;\n--SELECT 1 FROM PUMS;\nSELECT SUM(age)\n FROM PUMS;") == [
        "SELECT COUNT(*) FROM PUMS.PUMS", "SELECT SUM(age) FROM PUMS"]


def test_metadata_becomes_an_equivalent_dictionary() -> None:
    table = table_info(parse_metadata(META), sample_dtypes("age,married,pid\n59,1,1\n31,0,2\n"))
    assert table.privacy_unit == "pid" and table.max_contributions == 2 and table.max_rows == 1000
    age, married = table.column("age"), table.column("married")
    assert age is not None and age.role == "measure" and age.bounds == (0.0, 100.0)
    assert married is not None and married.role == "dimension" and married.keys is None
    assert married.dtype == "int"  # the sample holds codes, whatever the YAML calls them
    assert table_info(parse_metadata(META)).column("married").dtype == "string"  # type: ignore[union-attr]


def test_templates_and_foreign_columns_are_not_runnable() -> None:
    columns = {"age", "married", "pid"}
    assert excluded(Found("SELECT COUNT(*) FROM PUMS.PUMS WHERE age > {}", "x.py", False, "PUMS")) is not None
    assert excluded(Found("SELECT SUM(sales) FROM PUMS.PUMS", "x.py", False, "PUMS"), columns) is not None
    assert excluded(Found("SELECT SUM(age) AS s FROM PUMS.PUMS ORDER BY s", "x.py", False, "PUMS"), columns) is None


def test_the_qualified_table_is_our_dataset() -> None:
    assert local_sql("SELECT COUNT(*) FROM PUMS.PUMS_pid AS p") == "SELECT COUNT(*) FROM PUMS AS p"


def test_a_checkout_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "sql" / "tests").mkdir(parents=True)
    (tmp_path / "sql" / "tests" / "test_a.py").write_text(SOURCE.replace("PUMS.PUMS", "PUMS.PUMS_pid"))
    (tmp_path / "sql" / "tests" / "b_fail.sql").write_text("SELECT SUM(SUM(age)) FROM PUMS.PUMS;")
    found = find_queries(Corpus(tmp_path))
    assert {f.metadata for f in found} == {"PUMS_pid", "PUMS"}
    assert [f.expected_failure for f in found if f.path.endswith(".sql")] == [True]


def test_a_query_smartnoise_runs_privately_anywhere_is_runnable(tmp_path: Path) -> None:
    (tmp_path / "sql" / "tests").mkdir(parents=True)
    (tmp_path / "sql" / "tests" / "a_fail.sql").write_text("SELECT COUNT(*) FROM PUMS.PUMS;")
    (tmp_path / "sql" / "tests" / "test_b.py").write_text(
        "def test_b():\n    reader = PandasReader(df, meta)\n\n"
        "def test_c():\n    reader.execute('SELECT COUNT(*) FROM PUMS.PUMS')\n")  # another function's reader
    found = find_queries(Corpus(tmp_path))
    assert [(f.sql, f.expected_failure) for f in found] == [("SELECT COUNT(*) FROM PUMS.PUMS", False)]
