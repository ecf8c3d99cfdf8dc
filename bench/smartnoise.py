"""How much of SmartNoise SQL's own PUMS corpus the sandbox answers (issue 14).

`python -m bench.smartnoise --corpus <smartnoise-sdk checkout or its git directory>`

At run time it reads, from the given copy of opendp/smartnoise-sdk (nothing of it is kept in this repo):

- the queries SmartNoise SQL runs on its PUMS sample: string literals and `.sql` statements in
  `sql/tests`, the documentation (`README.md`, `sql/README.md`, `sql/docs`, docstrings under `sql/snsql`)
  and the notebooks in `sql/samples`, keeping those whose FROM names `PUMS`, `PUMS_pid` or `PUMS_dup`;
- the metadata `datasets/PUMS.yaml`, `PUMS_pid.yaml`, `PUMS_dup.yaml`: column types, bounds, row bound,
  the private identifier and `max_ids`.

A query is **excluded** (not runnable) when SmartNoise itself refuses it or cannot run it as written:
statements in files named `*_fail.sql` (SmartNoise's validator rejects them by design) or under
`queries/parse/` (only parsed), literals a test expects to raise (inside `with pytest.raises(...)`, or
assigned to a name used there), literals run by a non-private reader (`PandasReader(...).execute`),
templates with `{...}` placeholders or `%s` (not a query until formatted), and queries naming columns
the PUMS metadata lacks. A query run privately anywhere in the corpus is runnable.

Each runnable query goes through `sandbox.sql.parse` and `sandbox.plan.compile_query` against a Shuyu
dictionary equivalent to the metadata: measures with SmartNoise's bounds, the other columns dimensions
*without* public keys (SmartNoise's metadata lists none; the policy allows unknown keys on general data
with δ = 1e-5, as SmartNoise thresholds rare groups with δ), the row bound from `rows`, and for the
`PUMS_pid` / `PUMS_dup` files `pid` as the privacy unit with k = `max_ids` (1 when absent). The answered
ones are then released on a synthetic PUMS-shaped frame (1,000 seeded random rows), to prove they run
end to end. The schema-qualified name `PUMS.PUMS` is read as our dataset name `PUMS` (a Shuyu query
names its dataset; this is naming, not a change of the question).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from sandbox.spec import ColumnInfo, Policy, TableInfo

TABLE = "PUMS"
EPSILON = 1.0
DELTA = 1e-5
_FROM_PUMS = re.compile(r"\bFROM\s+(?:PUMS\.)?(PUMS(?:_pid|_dup)?)\b(?!\.)", re.IGNORECASE)
_QUALIFIED = re.compile(r"\bPUMS\.(PUMS(?:_pid|_dup)?)\b", re.IGNORECASE)
_QUOTED = re.compile(r"('''|\"\"\"|'|\")(\s*SELECT\b.*?)\1", re.IGNORECASE | re.DOTALL)
_SOURCES = ("sql/tests/", "sql/docs/", "sql/samples/", "sql/snsql/")
_DOCS = ("README.md", "sql/README.md")
_METADATA = {"PUMS": "datasets/PUMS.yaml", "PUMS_pid": "datasets/PUMS_pid.yaml",
             "PUMS_dup": "datasets/PUMS_dup.yaml"}


@dataclass(frozen=True)
class Found:
    """One query text found in the corpus, where, and whether SmartNoise itself expects it to fail."""

    sql: str
    path: str
    expected_failure: bool
    metadata: str  # which PUMS metadata the file loads: PUMS, PUMS_pid or PUMS_dup


# --- reading the corpus ---------------------------------------------------------------------------

class Corpus:
    """A smartnoise-sdk checkout or bare git directory, read only."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.git = (root / "HEAD").is_file() and (root / "objects").is_dir()

    def files(self) -> list[str]:
        if self.git:
            out = subprocess.run(["git", f"--git-dir={self.root}", "ls-tree", "-r", "--name-only", "HEAD"],
                                 check=True, capture_output=True, text=True).stdout
            return out.splitlines()
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*")
                      if p.is_file() and ".git" not in p.parts)

    def read(self, path: str) -> str:
        if self.git:
            return subprocess.run(["git", f"--git-dir={self.root}", "show", f"HEAD:{path}"],
                                  check=True, capture_output=True, text=True).stdout
        return (self.root / path).read_text(encoding="utf-8")


def clean(sql: str) -> str:
    """One query on one line, without the trailing semicolon."""
    return " ".join(sql.split()).rstrip(";").strip()


def is_pums(sql: str) -> bool:
    return _FROM_PUMS.search(sql) is not None and sql.lstrip().upper().startswith("SELECT")


def is_template(sql: str) -> bool:
    return re.search(r"\{[^}]*\}|%s|%\(", sql) is not None


def metadata_of(text: str) -> str:
    """Which PUMS metadata a file loads: the identifier-keyed ones when it names them."""
    if "PUMS_dup" in text:
        return "PUMS_dup"
    if "PUMS_pid" in text:
        return "PUMS_pid"
    return "PUMS"


def from_sql_file(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [clean(s) for s in "\n".join(lines).split(";") if clean(s)]


def from_text(text: str) -> list[str]:
    """Quoted SELECT statements in prose, reStructuredText, notebooks' markdown or unparsable code."""
    return [clean(m.group(2)) for m in _QUOTED.finditer(text)]


def from_python(text: str) -> list[tuple[str, bool]]:
    """String literals in Python source, each with whether the code expects it to raise.

    A literal expects to raise when it sits inside `with pytest.raises(...)` (or `assertRaises`), or is
    assigned to a name that is used inside such a block of the same function.
    """
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return [(q, False) for q in from_text(text)]
    raising: set[int] = set()
    plain = _plain_reader_literals(tree)
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        names: set[str] = set()
        for node in ast.walk(func):
            if isinstance(node, ast.With) and any(_raises(item.context_expr) for item in node.items):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Constant):
                        raising.add(id(inner))
                    elif isinstance(inner, ast.Name):
                        names.add(inner.id)
        for node in ast.walk(func):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and any(
                    isinstance(t, ast.Name) and t.id in names for t in node.targets):
                raising.add(id(node.value))
    found: list[tuple[str, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.lstrip().upper().startswith("SELECT"):
                found.append((clean(node.value), id(node) in raising or id(node) in plain))
            else:  # docstrings and comments-as-strings: quoted examples inside
                found.extend((q, False) for q in from_text(node.value))
    return found


def _plain_reader_literals(tree: ast.AST) -> set[int]:
    """Literals passed to `.execute(...)` of a non-private reader (`PandasReader(...)`, not `PrivateReader`)
    assigned in the same function: SmartNoise runs those exactly, without privacy, so they are not
    queries its private reader answers."""
    out: set[int] = set()
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        readers: set[str] = set()
        for node in ast.walk(func):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                call = node.value.func
                name = call.attr if isinstance(call, ast.Attribute) else getattr(call, "id", "")
                if name.endswith("Reader") and name != "PrivateReader":
                    readers.update(t.id for t in node.targets if isinstance(t, ast.Name))
        for node in ast.walk(func):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr.startswith("execute") and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in readers):
                out.update(id(a) for a in node.args if isinstance(a, ast.Constant))
    return out


def _raises(expr: ast.expr) -> bool:
    target = expr.func if isinstance(expr, ast.Call) else expr
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    return name in ("raises", "assertRaises", "assertRaisesRegex")


def from_notebook(text: str) -> list[str]:
    cells = json.loads(text).get("cells", [])
    out: list[str] = []
    for cell in cells:
        source = "".join(cell.get("source", []))
        if cell.get("cell_type") == "code":
            out.extend(q for q, _ in from_python("\n".join(
                line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))))
        else:
            out.extend(from_text(source))
    return out


def find_queries(corpus: Corpus) -> list[Found]:
    """Every PUMS query in the corpus, in file order, once per (query, metadata)."""
    found: list[Found] = []
    for path in corpus.files():
        if not (path.startswith(_SOURCES) or path in _DOCS) or "/setup/" in path:
            continue
        if not path.endswith((".py", ".sql", ".md", ".rst", ".ipynb")):
            continue
        text = corpus.read(path)
        meta = metadata_of(text)
        items: list[tuple[str, bool]]
        if path.endswith(".sql"):
            failing = Path(path).stem.endswith("_fail") or "/queries/parse/" in path
            items = [(q, failing) for q in from_sql_file(text)]
        elif path.endswith(".py"):
            items = from_python(text)
        elif path.endswith(".ipynb"):
            items = [(q, False) for q in from_notebook(text)]
        else:
            items = [(q, False) for q in from_text(text)]
        found.extend(Found(q, path, fail, meta) for q, fail in items if is_pums(q))
    # One entry per (query, metadata), in file order; SmartNoise runs it privately if any occurrence does.
    unique: dict[tuple[str, str], Found] = {}
    for f in found:
        key = (f.sql, f.metadata)
        if key not in unique or not f.expected_failure:
            unique[key] = Found(f.sql, unique.get(key, f).path, f.expected_failure and unique.get(key, f)
                                .expected_failure, f.metadata)
    return list(unique.values())


def excluded(f: Found, columns: set[str] | None = None) -> str | None:
    """Why SmartNoise itself would not run this query, or None when it is runnable.

    `columns` (lower case) are the metadata's: a query naming others cannot run on PUMS."""
    if f.expected_failure:
        return ("SmartNoise does not answer it privately (a *_fail.sql or parse-only file, pytest.raises, "
                "or a non-private reader)")
    if is_template(f.sql):
        return "a template with placeholders, not a query"
    if columns is not None:
        import sqlglot
        from sqlglot import exp

        try:
            tree = sqlglot.parse_one(local_sql(f.sql))
        except sqlglot.errors.ParseError:
            return None
        aliases = {a.alias.lower() for a in tree.find_all(exp.Alias)}
        names = {c.name.lower() for c in tree.find_all(exp.Column)} - aliases
        if names - columns:
            return "names columns the PUMS metadata does not have"
    return None


# --- the dictionary --------------------------------------------------------------------------------

def parse_metadata(text: str) -> dict[str, Any]:
    """The one table of a SmartNoise metadata YAML: its options and columns (a column is a dict).

    The files are plain nested `key: value` mappings (collection, schema, table, column), so a small
    indentation reader suffices and the project needs no YAML library.
    """
    stack: list[tuple[int, dict[str, Any]]] = [(-1, {})]
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip())
        key, _, value = raw.strip().partition(":")
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if value.strip():
            parent[key.strip().strip('"')] = _scalar(value.strip())
        else:
            child: dict[str, Any] = {}
            parent[key.strip().strip('"')] = child
            stack.append((indent, child))
    root = stack[0][1]
    for schemas in root.values():
        for tables in schemas.values():
            for table in tables.values():
                return dict(table)
    raise ValueError("no table in the metadata")


def _scalar(value: str) -> Any:
    if value in ("True", "true"):
        return True
    if value in ("False", "false"):
        return False
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value.strip("'\"")


def sample_dtypes(csv: str) -> dict[str, str]:
    """The column types SmartNoise's own runs see: its tests load the sample CSV with pandas, which reads
    the category codes (sex, educ, race, married) as integers although the YAML calls them strings.
    Only the header and first rows are read, for their types; no value enters the dictionary."""
    lines = csv.splitlines()[:50]
    header = lines[0].split(",")
    types: dict[str, str] = {}
    for i, name in enumerate(header):
        cells = [line.split(",")[i] for line in lines[1:] if len(line.split(",")) == len(header)]
        types[name] = "int" if cells and all(re.fullmatch(r"-?\d+", c) for c in cells) else "string"
    return types


def table_info(meta: dict[str, Any], dtypes: dict[str, str] | None = None) -> TableInfo:
    """A Shuyu dictionary equivalent to SmartNoise's: measures keep their bounds, other columns are
    dimensions without public keys, the private identifier is the privacy unit with k = max_ids.
    A dimension's type is the sample's (`dtypes`) when given, else the YAML's."""
    columns: list[ColumnInfo] = []
    unit: str | None = None
    for name, col in meta.items():
        if not isinstance(col, dict):
            continue
        kind = col.get("type")
        if col.get("private_id"):
            unit = name
            columns.append(ColumnInfo(name, "identifier", "int"))
        elif kind in ("int", "float") and "lower" in col and "upper" in col:
            columns.append(ColumnInfo(name, "measure", kind, bounds=(float(col["lower"]), float(col["upper"]))))
        else:
            yaml_type = {"int": "int", "float": "float", "boolean": "bool"}.get(str(kind), "string")
            dtype = (dtypes or {}).get(name) or yaml_type
            columns.append(ColumnInfo(name, "dimension", dtype))  # type: ignore[arg-type]
    return TableInfo(name=TABLE, columns=tuple(columns), privacy_unit=unit,
                     max_contributions=int(meta.get("max_ids", 1)) if unit else 1,
                     max_rows=int(meta.get("rows", 10**8)))


POLICY = Policy(allow_unknown_keys=True, delta=DELTA)


def synthetic(table: TableInfo, rows: int = 1000, seed: int = 14) -> pl.DataFrame:
    """A PUMS-shaped frame: measures uniform within their bounds, dimensions over small code lists."""
    import random

    rng = random.Random(seed)
    codes = {"sex": 2, "married": 2, "race": 6, "educ": 16}
    data: dict[str, list[Any]] = {}
    for col in table.columns:
        if col.role == "identifier":
            data[col.name] = [i // max(table.max_contributions, 1) for i in range(rows)]
        elif col.role == "measure" and col.bounds is not None:
            lo, hi = col.bounds
            data[col.name] = [rng.randint(int(lo), int(hi)) if col.dtype == "int" else rng.uniform(lo, hi)
                              for _ in range(rows)]
        else:
            n = codes.get(col.name, 5)
            values = [rng.randint(0 if n == 2 else 1, n if n > 2 else 1) for _ in range(rows)]
            data[col.name] = [str(v) for v in values] if col.dtype == "string" else values
    return pl.DataFrame(data)


# --- running ---------------------------------------------------------------------------------------

def local_sql(sql: str) -> str:
    """`PUMS.PUMS` (or `PUMS.PUMS_pid`) is our dataset `PUMS`."""
    return re.sub(r"\bFROM\s+PUMS(?:_pid|_dup)?\b", f"FROM {TABLE}", _QUALIFIED.sub(TABLE, sql),
                  flags=re.IGNORECASE)


def reason_group(reason: str) -> str:
    """A refusal's reason without the query-specific parts (names, positions), to group them."""
    reason = re.sub(r'"[^"]*"', '"…"', reason)
    return re.sub(r"\b\d+(\.\d+)?\b", "N", reason)


def run_one(sql: str, table: TableInfo, data: Path) -> tuple[bool, str]:
    """(answered, refusal reason or '') for one query; an answered query is also released."""
    from sandbox.plan import compile_query, release
    from sandbox.sql import QueryNotAllowed, parse

    try:
        spec = parse(local_sql(sql), table, POLICY)
        compiled = compile_query(spec, table, POLICY, EPSILON)
    except QueryNotAllowed as e:
        return False, e.reason
    release(compiled, pl.scan_parquet(data))
    return True, ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True, help="smartnoise-sdk checkout or git directory")
    ap.add_argument("--list", action="store_true", help="print every query with its outcome")
    args = ap.parse_args(argv)
    corpus = Corpus(args.corpus)
    tables = {name: table_info(parse_metadata(corpus.read(path)), sample_dtypes(corpus.read(path[:-4] + "csv")))
              for name, path in _METADATA.items()}
    found = find_queries(corpus)
    cols = {name: {c.name.lower() for c in t.columns} for name, t in tables.items()}
    why = {f: excluded(f, cols[f.metadata]) for f in found}
    runnable = [f for f in found if why[f] is None]
    skipped = Counter(w for w in why.values() if w is not None)
    outcomes: list[tuple[Found, bool, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for name, table in tables.items():
            paths[name] = Path(tmp) / f"{name}.parquet"
            synthetic(table).write_parquet(paths[name])
        for f in runnable:
            ok, reason = run_one(f.sql, tables[f.metadata], paths[f.metadata])
            outcomes.append((f, ok, reason))
    answered = sum(ok for _, ok, _ in outcomes)
    groups: dict[str, list[str]] = defaultdict(list)
    for f, ok, reason in outcomes:
        if not ok:
            groups[reason_group(reason)].append(f.sql)
    print(f"found {len(found)} PUMS queries; excluded {len(found) - len(runnable)}: "
          + "; ".join(f"{n} {why}" for why, n in skipped.items()))
    print(f"answered {answered} / {len(runnable)} runnable ({100 * answered / max(len(runnable), 1):.0f}%)")
    print()
    print("| refusal reason | queries | example |")
    print("|---|---:|---|")
    for reason, sqls in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print(f"| {reason.replace('|', '/')} | {len(sqls)} | `{sqls[0].replace('|', '/')}` |")
    if args.list:
        print()
        for f, ok, reason in outcomes:
            print(f"{'OK ' if ok else 'NO '} [{f.metadata}] {f.sql}" + ("" if ok else f"\n     -> {reason}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
