"""Plain, frozen descriptions of a table, a DP policy and a parsed query.

Everything here is public information or parsed SQL: no data. Each class round-trips through JSON
(`to_dict()` / `from_dict()`) because a spec is compiled again inside a sandbox worker process, and
each is hashable so a compiled plan can be cached by its exact shape.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, TypeAlias, cast

from core.times import iso, parse_one

Role = Literal["dimension", "measure", "identifier", "excluded"]
DType = Literal["string", "int", "float", "bool", "date", "datetime"]
Key: TypeAlias = str | int | bool
Scalar: TypeAlias = str | int | float | bool
AggKind = Literal["count", "count_distinct", "sum", "avg", "quantile", "var", "std", "expr"]
# A post-processing expression over released values, as nested tuples (hashable, JSON-able):
# ("num", v) a constant; ("agg", <Aggregate.to_dict() items>) a released aggregate; ("col", name) a result
# column; (op, *args) with op one of POST_OPS.
Post: TypeAlias = tuple[Any, ...]
POST_OPS = frozenset({"add", "sub", "mul", "div", "neg", "POWER", "SQRT", "ABS", "ROUND", "FLOOR", "CEIL",
                      "EXP", "LN", "LOG10", "CAST_INT", "CAST_FLOAT", "SIGN"})
CompareOp = Literal["=", "!=", "<", "<=", ">", ">=", "is_null", "is_not_null"]
BoolOpName = Literal["and", "or", "not"]


@dataclass(frozen=True)
class ColumnInfo:
    """One column of the data dictionary.

    `bounds` clip a measure; `keys` are a dimension's public categories (None: the keys are not public);
    `period` is a date or datetime dimension's public first and last value (ISO text), from which the keys
    of its time buckets follow.
    """

    name: str
    role: Role
    dtype: DType
    bounds: tuple[float, float] | None = None
    keys: tuple[Key, ...] | None = None
    period: tuple[str, str] | None = None

    def group_keys(self) -> tuple[Key, ...] | None:
        """The public keys a GROUP BY on this column uses: a dimension's keys, or every integer within an
        integer measure's public bounds (the bounds are public, so the keys they imply are too)."""
        if self.role == "dimension":
            return self.keys
        if self.role == "measure" and self.dtype == "int" and self.bounds is not None:
            lo, hi = math.ceil(self.bounds[0]), math.floor(self.bounds[1])
            return tuple(range(lo, hi + 1))
        return None

    def key_count(self) -> int | None:
        """How many keys `group_keys` would list, without listing them (bounds of [0, 1e12] are a trillion)."""
        if self.role == "dimension":
            return len(self.keys) if self.keys is not None else None
        if self.role == "measure" and self.dtype == "int" and self.bounds is not None:
            return max(0, math.floor(self.bounds[1]) - math.ceil(self.bounds[0]) + 1)
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "dtype": self.dtype,
            "bounds": list(self.bounds) if self.bounds is not None else None,
            "keys": list(self.keys) if self.keys is not None else None,
            "period": list(self.period) if self.period is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnInfo:
        bounds = d.get("bounds")
        keys = d.get("keys")
        period = d.get("period")
        return cls(
            name=d["name"],
            role=d["role"],
            dtype=d["dtype"],
            bounds=(bounds[0], bounds[1]) if bounds is not None else None,
            keys=tuple(keys) if keys is not None else None,
            period=(period[0], period[1]) if period is not None else None,
        )


@dataclass(frozen=True)
class TableInfo:
    """The public description of one dataset: its columns and its privacy unit.

    `privacy_unit` is None when a row is the unit, else the identifier column; `max_contributions` is
    how many rows one unit may contribute. `max_rows` is a public upper bound on the number of rows:
    OpenDP needs it for sums, and a tight bound gives much less noise on float sums.
    """

    name: str
    columns: tuple[ColumnInfo, ...]
    privacy_unit: str | None = None
    max_contributions: int = 1
    max_rows: int = 10**8

    def column(self, name: str, *, exact: bool = False) -> ColumnInfo | None:
        """Look a column up by name: exactly, or case-insensitively when that is unambiguous."""
        for col in self.columns:
            if col.name == name:
                return col
        if exact:
            return None
        matches = [col for col in self.columns if col.name.lower() == name.lower()]
        return matches[0] if len(matches) == 1 else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "columns": [c.to_dict() for c in self.columns],
            "privacy_unit": self.privacy_unit,
            "max_contributions": self.max_contributions,
            "max_rows": self.max_rows,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TableInfo:
        return cls(
            name=d["name"],
            columns=tuple(ColumnInfo.from_dict(c) for c in d["columns"]),
            privacy_unit=d.get("privacy_unit"),
            max_contributions=int(d.get("max_contributions", 1)),
            max_rows=int(d.get("max_rows", 10**8)),
        )


@dataclass(frozen=True)
class Policy:
    """The DP policy of a listing. `allow_unknown_keys` (general grade only) also needs `delta > 0`."""

    min_group_size: int = 0
    allow_unknown_keys: bool = False
    delta: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_group_size": self.min_group_size,
            "allow_unknown_keys": self.allow_unknown_keys,
            "delta": self.delta,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Policy:
        return cls(
            min_group_size=int(d.get("min_group_size", 0)),
            allow_unknown_keys=bool(d.get("allow_unknown_keys", False)),
            delta=float(d.get("delta", 0.0)),
        )


@dataclass(frozen=True)
class Aggregate:
    """One released aggregate. `column` is None only for COUNT(*).

    `bounds` are the effective clipping bounds (the dictionary's, or narrower ones from the query) for
    sum, avg, quantile, var and std; `quantile` is the level in (0, 1) of a quantile (0.5 for MEDIAN), and
    for var/std the degrees of freedom subtracted (0 for the population variance, 1 for the sample one).
    `kind == "expr"` is post-processing of released aggregates: `post` says how (see `Post`).
    """

    alias: str
    kind: AggKind
    column: str | None = None
    bounds: tuple[float, float] | None = None
    quantile: float | None = None
    post: Post | None = None

    def leaves(self) -> tuple[Aggregate, ...]:
        """The released aggregates this one is computed from: itself, or those its expression names."""
        if self.post is None:
            return (self,)
        return tuple(dict.fromkeys(_post_leaves(self.post)))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "alias": self.alias,
            "kind": self.kind,
            "column": self.column,
            "bounds": list(self.bounds) if self.bounds is not None else None,
            "quantile": self.quantile,
        }
        if self.post is not None:
            out["post"] = post_to_json(self.post)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Aggregate:
        bounds = d.get("bounds")
        post = d.get("post")
        return cls(
            alias=d["alias"],
            kind=d["kind"],
            column=d.get("column"),
            bounds=(bounds[0], bounds[1]) if bounds is not None else None,
            quantile=d.get("quantile"),
            post=post_from_json(post) if post is not None else None,
        )


def _post_leaves(post: Post) -> list[Aggregate]:
    if post[0] == "agg":
        return [post[1]]
    if post[0] in ("num", "col"):
        return []
    return [leaf for arg in post[1:] for leaf in _post_leaves(arg)]


def post_to_json(post: Post) -> list[Any]:
    if post[0] == "agg":
        return ["agg", post[1].to_dict()]
    if post[0] in ("num", "col"):
        return [post[0], post[1]]
    return [post[0], *(post_to_json(a) for a in post[1:])]


def post_from_json(d: list[Any]) -> Post:
    if d[0] == "agg":
        return ("agg", Aggregate.from_dict(d[1]))
    if d[0] in ("num", "col"):
        return (d[0], d[1])
    if d[0] not in POST_OPS:
        raise ValueError(f"unknown post-processing operation {d[0]!r}")
    return (d[0], *(post_from_json(a) for a in d[1:]))


@dataclass(frozen=True)
class Comparison:
    """`column <op> value`; `value` is None for IS NULL / IS NOT NULL.

    In WHERE, `column` is a table column; in HAVING, a result column (an alias or a group column).
    """

    column: str
    op: CompareOp
    value: Scalar | None = None


@dataclass(frozen=True)
class BoolOp:
    """AND / OR over two or more filters, or NOT over exactly one."""

    op: BoolOpName
    args: tuple[Filter, ...]


Filter: TypeAlias = Comparison | BoolOp


def filter_to_dict(f: Filter) -> dict[str, Any]:
    if isinstance(f, Comparison):
        return {"kind": "cmp", "column": f.column, "op": f.op, "value": f.value}
    return {"kind": "bool", "op": f.op, "args": [filter_to_dict(a) for a in f.args]}


def filter_from_dict(d: dict[str, Any]) -> Filter:
    if d["kind"] == "cmp":
        return Comparison(column=d["column"], op=d["op"], value=d.get("value"))
    return BoolOp(op=d["op"], args=tuple(filter_from_dict(a) for a in d["args"]))


@dataclass(frozen=True)
class OrderItem:
    """ORDER BY one result column (an aggregate alias or a group column)."""

    column: str
    descending: bool = False


@dataclass(frozen=True)
class QuerySpec:
    """A parsed, checked query: what to compute, never how.

    The result's columns are `group_by` (SELECT-list order first, then any grouped-but-unselected
    column, so every released row carries its public key) followed by the aggregates in SELECT order.
    `where` runs on the data before DP; `having`, `order_by` and `limit` run on released values only.
    `group_names` renames the group columns in the result (`educ AS e`; empty: no renaming); `computed`
    are hidden result columns that HAVING and ORDER BY use (`CAST(n AS INT)`, `n * 2`): post-processing.
    """

    table: str
    aggregates: tuple[Aggregate, ...]
    group_by: tuple[str, ...] = ()
    where: Filter | None = None
    having: Filter | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    normalized_sql: str = ""
    group_names: tuple[str, ...] = ()
    computed: tuple[tuple[str, Post], ...] = ()

    @property
    def group_labels(self) -> tuple[str, ...]:
        """The group columns as the result names them."""
        return self.group_names or self.group_by

    @property
    def columns(self) -> tuple[str, ...]:
        return self.group_labels + tuple(a.alias for a in self.aggregates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "aggregates": [a.to_dict() for a in self.aggregates],
            "group_by": list(self.group_by),
            "where": filter_to_dict(self.where) if self.where is not None else None,
            "having": filter_to_dict(self.having) if self.having is not None else None,
            "order_by": [{"column": o.column, "descending": o.descending} for o in self.order_by],
            "limit": self.limit,
            "normalized_sql": self.normalized_sql,
            "group_names": list(self.group_names),
            "computed": [[name, post_to_json(post)] for name, post in self.computed],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QuerySpec:
        where = d.get("where")
        having = d.get("having")
        return cls(
            table=d["table"],
            aggregates=tuple(Aggregate.from_dict(a) for a in d["aggregates"]),
            group_by=tuple(d.get("group_by", ())),
            where=filter_from_dict(cast(dict[str, Any], where)) if where is not None else None,
            having=filter_from_dict(cast(dict[str, Any], having)) if having is not None else None,
            order_by=tuple(OrderItem(o["column"], bool(o["descending"])) for o in d.get("order_by", ())),
            limit=d.get("limit"),
            normalized_sql=d.get("normalized_sql", ""),
            group_names=tuple(d.get("group_names", ())),
            computed=tuple((name, post_from_json(post)) for name, post in d.get("computed", ())),
        )


# CASE inside an aggregate. It is a computed column of the row, named by its canonical JSON so that a
# statistic over it is keyed, cached and compared like one over a table column.

CASE_PREFIX = "case:"
Branch: TypeAlias = tuple[Any, ...]  # ("num", v) | ("col", name, lo, hi) | ("null",)


@dataclass(frozen=True)
class Case:
    """`CASE WHEN c1 THEN v1 … ELSE v END`: WHERE-like conditions; values are constants, measure columns
    (clipped to `lo..hi`) or NULL. A missing ELSE is NULL. `dtype` is "int" when every value is whole."""

    whens: tuple[tuple[Filter, Branch], ...]
    otherwise: Branch
    dtype: DType

    @property
    def key(self) -> str:
        return CASE_PREFIX + json.dumps({
            "whens": [[filter_to_dict(f), list(b)] for f, b in self.whens],
            "else": list(self.otherwise), "dtype": self.dtype}, sort_keys=True, ensure_ascii=False)

    @property
    def branches(self) -> tuple[Branch, ...]:
        return (*(b for _, b in self.whens), self.otherwise)

    def bounds(self) -> tuple[float, float]:
        """Every value a row can add to a SUM: the branches' ranges, and 0 for rows no branch gives a value."""
        lows, highs = [0.0], [0.0]
        for branch in self.branches:
            if branch[0] == "num":
                lows.append(branch[1])
                highs.append(branch[1])
            elif branch[0] == "col":
                lows.append(branch[2])
                highs.append(branch[3])
        if self.dtype == "int":
            return int(min(lows)), int(max(highs))
        return float(min(lows)), float(max(highs))

    def columns(self) -> set[str]:
        used = {b[1] for b in self.branches if b[0] == "col"}
        for f, _ in self.whens:
            used |= filter_columns(f)
        return used


def case_of(column: str | None) -> Case | None:
    """The CASE a computed column stands for, or None for a table column."""
    if column is None or not column.startswith(CASE_PREFIX):
        return None
    d = json.loads(column[len(CASE_PREFIX):])
    return Case(whens=tuple((filter_from_dict(f), tuple(b)) for f, b in d["whens"]),
                otherwise=tuple(d["else"]), dtype=d["dtype"])


def filter_columns(f: Filter | None) -> set[str]:
    if f is None:
        return set()
    if isinstance(f, Comparison):
        return {f.column}
    return set().union(*(filter_columns(a) for a in f.args))


# Time buckets: EXTRACT(unit FROM col) and DATE_TRUNC('unit', col) on a date or datetime dimension. A bucket
# is a computed group column named by its canonical text; its keys follow from the column's public period
# alone (every month between the first and last declared date; hours 0..23), never from the data.

TIME_PREFIX = "time:"
BucketFunc = Literal["extract", "trunc"]
EXTRACT_UNITS = ("year", "quarter", "month", "day", "hour", "dow")
TRUNC_UNITS = ("year", "quarter", "month", "day", "hour")
_FIXED_KEYS: dict[str, range] = {"quarter": range(1, 5), "month": range(1, 13), "day": range(1, 32),
                                 "hour": range(24), "dow": range(7)}
_MONTHS = {"year": 12, "quarter": 3, "month": 1}


@dataclass(frozen=True)
class Bucket:
    func: BucketFunc
    unit: str
    column: str

    @property
    def name(self) -> str:
        return f"{TIME_PREFIX}{self.func}:{self.unit}:{self.column}"

    @property
    def label(self) -> str:
        """The result column's name when the query gives none."""
        return f"{self.column}_{self.unit}" if self.func == "extract" else f"{self.column}_{self.unit}_start"

    @property
    def dtype(self) -> DType:
        return "int" if self.func == "extract" else "string"

    @property
    def periodic(self) -> bool:
        """Whether each key is one stretch of time (a year, a truncated period) rather than a recurring one."""
        return self.func == "trunc" or self.unit == "year"

    def count(self, first: datetime, last: datetime) -> int:
        """How many keys the period makes, without listing them."""
        if not self.periodic:
            return len(_FIXED_KEYS[self.unit])
        if self.unit in _MONTHS:
            step = _MONTHS[self.unit]
            return (last.year * 12 + last.month - 1) // step - (first.year * 12 + first.month - 1) // step + 1
        if self.unit == "day":
            return (last.date() - first.date()).days + 1
        return int((_start(last, "hour") - _start(first, "hour")).total_seconds() // 3600) + 1

    def keys(self, kind: DType, first: datetime, last: datetime, where: Filter | None = None) -> tuple[Key, ...]:
        """The public keys between `first` and `last`, without those the WHERE leaves no row in."""
        if not self.periodic:
            return tuple(_FIXED_KEYS[self.unit])
        tick = timedelta(days=1) if kind == "date" else timedelta(microseconds=1)
        out: list[Key] = []
        start, final = _start(first, self.unit), _start(last, self.unit)
        while True:
            # The start after the final one is never computed: after a period ending 9999-12-31 there is none.
            end = _next(start, self.unit) if start < final else None
            if _possible(where, self.column, start, end - tick if end is not None else last, kind):
                out.append(start.year if self.func == "extract" else iso(start.date() if kind == "date" else start))
            if end is None:
                return tuple(out)
            start = end


def bucket_of(column: str | None) -> Bucket | None:
    """The time bucket a computed group column stands for, or None for a table column."""
    if column is None or not column.startswith(TIME_PREFIX):
        return None
    func, unit, name = column[len(TIME_PREFIX):].split(":", 2)
    if func not in ("extract", "trunc") or unit not in (EXTRACT_UNITS if func == "extract" else TRUNC_UNITS):
        raise ValueError(f"unknown time bucket {column!r}")
    return Bucket(cast(BucketFunc, func), unit, name)


def period_of(info: ColumnInfo) -> tuple[datetime, datetime] | None:
    """A date or datetime column's declared first and last instant, or None when it declares none."""
    if info.period is None or info.dtype not in ("date", "datetime"):
        return None
    first, last = (as_datetime(parse_one(v, "datetime")) for v in info.period)
    if first is None or last is None or first > last:
        return None
    return first, last


def as_datetime(value: date | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day)


def _start(moment: datetime, unit: str) -> datetime:
    if unit == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "day":
        return day
    step = _MONTHS[unit]
    return day.replace(month=(day.month - 1) // step * step + 1, day=1)


def _next(start: datetime, unit: str) -> datetime:
    if unit == "hour":
        return start + timedelta(hours=1)
    if unit == "day":
        return start + timedelta(days=1)
    months = start.year * 12 + start.month - 1 + _MONTHS[unit]
    return start.replace(year=months // 12, month=months % 12 + 1)


def _possible(where: Filter | None, column: str, start: datetime, last: datetime, kind: DType) -> bool:
    """Whether some instant in [start, last] can pass the WHERE's top-level AND comparisons on `column`."""
    for part in _conjuncts(where):
        if not isinstance(part, Comparison) or part.column != column or not isinstance(part.value, str):
            continue
        value = as_datetime(parse_one(part.value, "date" if kind == "date" else "datetime"))
        if value is None:
            continue
        holds = {"<": start < value, "<=": start <= value, ">": last > value, ">=": last >= value,
                 "=": start <= value <= last}.get(part.op, True)
        if not holds:
            return False
    return True


# Bins: GROUP BY a measure through public bins, FLOOR(m / w) * w (or FLOOR(m / w)), or CASE WHEN … THEN
# 'label' … END. The keys follow from the measure's declared bounds, or from the query's own labels.

BIN_PREFIX = "bin:"


@dataclass(frozen=True)
class Bin:
    """Width bins of a measure (`column`, `width`; `scaled`: the key is the bin's lower edge, else its
    number), or a CASE whose WHERE-like conditions choose a constant label (`whens`, `otherwise`)."""

    column: str | None = None
    width: int = 0
    scaled: bool = True
    whens: tuple[tuple[Filter, Key], ...] = ()
    otherwise: Key | None = None

    @property
    def name(self) -> str:
        if self.column is not None:
            body: dict[str, Any] = {"column": self.column, "width": self.width, "scaled": self.scaled}
        else:
            body = {"whens": [[filter_to_dict(f), v] for f, v in self.whens], "else": self.otherwise}
        return BIN_PREFIX + json.dumps(body, sort_keys=True, ensure_ascii=False)

    @property
    def label(self) -> str:
        return f"{self.column}_bin" if self.column is not None else "bin"

    @property
    def labels(self) -> tuple[Key, ...]:
        """A CASE's keys: its THEN and ELSE constants, each once, in the order written."""
        values = [v for _, v in self.whens] + ([self.otherwise] if self.otherwise is not None else [])
        return tuple(dict.fromkeys(values))

    @property
    def dtype(self) -> DType:
        if self.column is not None or all(isinstance(v, int) and not isinstance(v, bool) for v in self.labels):
            return "int"
        return "string"

    def columns(self) -> set[str]:
        if self.column is not None:
            return {self.column}
        return set().union(*(filter_columns(f) for f, _ in self.whens))

    def keys(self, bounds: tuple[float, float] | None) -> tuple[Key, ...] | None:
        """Every bin the public bounds reach (or the CASE's labels); None when the measure has no bounds."""
        if self.column is None:
            return self.labels
        if bounds is None or self.width <= 0:
            return None
        first, last = math.floor(bounds[0] / self.width), math.floor(bounds[1] / self.width)
        return tuple(i * self.width if self.scaled else i for i in range(first, last + 1))

    def count(self, bounds: tuple[float, float] | None) -> int:
        if self.column is None:
            return len(self.labels)
        if bounds is None or self.width <= 0:
            return 0
        return math.floor(bounds[1] / self.width) - math.floor(bounds[0] / self.width) + 1


def bin_of(column: str | None) -> Bin | None:
    """The bin a computed group column stands for, or None for a table column."""
    if column is None or not column.startswith(BIN_PREFIX):
        return None
    d = json.loads(column[len(BIN_PREFIX):])
    if "column" in d:
        return Bin(column=d["column"], width=int(d["width"]), scaled=bool(d["scaled"]))
    return Bin(whens=tuple((filter_from_dict(f), v) for f, v in d["whens"]), otherwise=d["else"])


def _conjuncts(where: Filter | None) -> list[Filter]:
    """The conditions joined by AND at the top (BETWEEN's two comparisons among them)."""
    if where is None:
        return []
    if isinstance(where, BoolOp) and where.op == "and":
        return [part for arg in where.args for part in _conjuncts(arg)]
    return [where]
