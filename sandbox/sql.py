"""SQL text → QuerySpec: parse with sqlglot, then accept only the aggregate surface DP can release.

Accepted: one `SELECT dims..., aggregates FROM <table> [WHERE ...] [GROUP BY dims] [HAVING ...]
[ORDER BY ...] [LIMIT n]`, where an aggregate is COUNT(*), COUNT(col), SUM(m), AVG(m), MEDIAN(m),
PERCENTILE_CONT(p) WITHIN GROUP (ORDER BY m) or QUANTILE(m, p), and m is a measure optionally
narrowed with LEAST/GREATEST/CLAMP. Everything else raises `QueryNotAllowed`, whose `detail` names
the construct, where it is, and what to do instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.tokenizer_core import TokenType
from sqlglot.tokens import Tokenizer

from core.config import get_settings
from core.times import iso, parse_one
from sandbox.spec import (
    EXTRACT_UNITS,
    TRUNC_UNITS,
    AggKind,
    Aggregate,
    Bin,
    BoolOp,
    Bucket,
    BucketFunc,
    Case,
    ColumnInfo,
    CompareOp,
    Comparison,
    Filter,
    Key,
    OrderItem,
    Policy,
    Post,
    QuerySpec,
    Scalar,
    TableInfo,
    as_datetime,
    bin_of,
    bucket_of,
    case_of,
    filter_columns,
    period_of,
)

_AGG_HINT = "select aggregates such as COUNT(*), SUM(column) or AVG(column)"
_COMPARE_OPS: dict[type[exp.Expr], CompareOp] = {
    exp.EQ: "=", exp.NEQ: "!=", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">=",
}
_FLIPPED: dict[CompareOp, CompareOp] = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
_SELECT_CLAUSES = {"expressions", "from", "from_", "where", "group", "having", "order", "limit"}
_CLAUSE_NAMES = {
    "with": "WITH (common table expressions)", "with_": "WITH (common table expressions)",
    "joins": "JOIN", "distinct": "DISTINCT", "offset": "OFFSET", "qualify": "QUALIFY",
    "windows": "WINDOW", "laterals": "LATERAL", "into": "SELECT INTO",
}
_NOT_DP_FUNCS = {"MIN", "MAX"}
MAX_INTEGER_KEYS = 1000  # GROUP BY an integer measure: every integer within its bounds is a public key
# Variance spellings → degrees of freedom (1: the sample variance, 0: the population one). VAR is SQL
# Server's sample variance, STD MySQL's population standard deviation.
_VARIANCES: dict[type[exp.Expr], tuple[AggKind, int]] = {
    exp.Variance: ("var", 1), exp.VariancePop: ("var", 0),
    exp.Stddev: ("std", 1), exp.StddevSamp: ("std", 1), exp.StddevPop: ("std", 0),
}
_NAMED_VARIANCES: dict[str, tuple[AggKind, int]] = {"VAR": ("var", 1), "STD": ("std", 0), "STDEV": ("std", 1),
                                                    "VARP": ("var", 0), "STDEVP": ("std", 0)}
_POST_FUNCS: dict[type[exp.Expr], str] = {
    exp.Sqrt: "SQRT", exp.Abs: "ABS", exp.Floor: "FLOOR", exp.Ceil: "CEIL", exp.Exp: "EXP", exp.Ln: "LN",
    exp.Sign: "SIGN",
}
_POST_BINARY: dict[type[exp.Expr], str] = {exp.Add: "add", exp.Sub: "sub", exp.Mul: "mul", exp.Div: "div",
                                           exp.Pow: "POWER"}
# Time buckets: EXTRACT / DATE_PART units and the one-argument functions, with their spellings. DOW is
# PostgreSQL's (0 = Sunday); DAYOFWEEK is left out because dialects number it differently.
_TIME_UNITS = {"YEAR": "year", "YEARS": "year", "YYYY": "year", "YEAR_OF": "year", "QUARTER": "quarter",
               "QUARTERS": "quarter", "MONTH": "month", "MONTHS": "month", "MON": "month", "DAY": "day",
               "DAYS": "day", "DAYOFMONTH": "day", "HOUR": "hour", "HOURS": "hour", "DOW": "dow"}
_TIME_FUNCS: dict[type[exp.Expr], str] = {exp.Year: "year", exp.Quarter: "quarter", exp.Month: "month",
                                          exp.Day: "day", exp.Hour: "hour"}
_TRUNCS = (exp.DateTrunc, exp.TimestampTrunc, exp.DatetimeTrunc)
_TIME_TYPES = {"DATE": "date", "TIMESTAMP": "datetime", "DATETIME": "datetime", "TIMESTAMPNTZ": "datetime"}
_INT_TYPES = {"TINYINT", "SMALLINT", "INT", "BIGINT", "INTEGER", "UTINYINT", "USMALLINT", "UINT", "UBIGINT"}
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "DECIMAL", "REAL", "NUMERIC", "BIGDECIMAL"}


class QueryNotAllowed(Exception):
    """The query is outside what the sandbox may release. `detail` is a sentence a person can act on."""

    def __init__(self, reason: str, line: int | None = None, col: int | None = None, *, hint: str = "") -> None:
        self.reason = reason
        self.line = line
        self.col = col
        self.hint = hint
        where = f" (line {line}, column {col})" if line is not None and col is not None else ""
        self.detail = f"{reason}{where}" + (f": {hint}" if hint else "")
        super().__init__(self.detail)


def parse(sql: str, table: TableInfo, policy: Policy) -> QuerySpec:
    """Parse one SQL aggregate query over `table` into a QuerySpec, or raise QueryNotAllowed."""
    _check_size(sql)
    try:
        sql, top = _top(sql)
        select = _single_select(sql)
        if top is not None:
            if select.args.get("limit") is not None:
                raise _refuse("TOP and LIMIT cannot be used together", select.args["limit"],
                              "keep one of them: TOP n is read as LIMIT n")
            select.set("limit", exp.Limit(expression=exp.Literal.number(top)))
        _check_depth(select)
        return _Parser(table, policy, select).spec()
    except RecursionError:  # a last guard: the limits above keep parsing well inside Python's stack
        raise _too_deep() from None


_UNARY = {"NOT", "DASH", "PLUS", "TILDA"}


def _top(sql: str) -> tuple[str, int | None]:
    """`SELECT TOP n ...` (SQL Server's spelling, which SmartNoise accepts) is read as `LIMIT n`.

    The two tokens are blanked out rather than removed so every later refusal keeps its column.
    """
    try:
        tokens = Tokenizer().tokenize(sql)
    except sqlglot.errors.SqlglotError:
        return sql, None
    for first, second, third in zip(tokens, tokens[1:], tokens[2:], strict=False):
        if first.token_type.name == "SELECT" and second.text.upper() == "TOP":
            if third.token_type.name != "NUMBER" or not third.text.isdigit():
                raise QueryNotAllowed("TOP must be followed by a whole number", second.line, second.col - 2,
                                      hint="write e.g. SELECT TOP 10 ...")
            blank = sql[:second.start] + " " * (third.end + 1 - second.start) + sql[third.end + 1:]
            return blank, int(third.text)
    return sql, None


def _check_size(sql: str) -> None:
    """Length and nesting limits, checked on the tokens before the recursive parser sees them: deep nesting
    (50 parentheses, NOT × 900) would otherwise exhaust Python's stack."""
    settings = get_settings()
    if len(sql) > settings.max_sql_length:
        raise QueryNotAllowed(f"the query is {len(sql):,} characters long; at most {settings.max_sql_length:,} "
                              "are accepted", hint="shorten it: long IN lists can often become a GROUP BY")
    try:
        tokens = Tokenizer().tokenize(sql)
    except sqlglot.errors.SqlglotError:
        return  # the parser reports it, with its position
    depth = unary = deepest = 0
    for token in tokens:
        kind = token.token_type.name
        if kind == "L_PAREN":
            depth += 1
        elif kind == "R_PAREN":
            depth -= 1
        unary = unary + 1 if kind in _UNARY else 0
        deepest = max(deepest, depth + unary)
    if deepest > settings.max_sql_depth:
        raise _too_deep()


def _check_depth(tree: exp.Expr) -> None:
    """The parsed tree's depth (long AND chains nest too), counted without recursion."""
    limit = get_settings().max_sql_depth * 5
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise _too_deep()
        stack.extend((child, depth + 1) for child in node.iter_expressions())


def _too_deep() -> QueryNotAllowed:
    return QueryNotAllowed(f"the query is nested too deeply (at most {get_settings().max_sql_depth} levels of "
                           "parentheses or NOT)", hint="simplify the condition: remove redundant parentheses")


def _position(node: exp.Expr) -> tuple[int | None, int | None]:
    """Line and 1-based start column of the earliest token under `node` (sqlglot keeps token ends)."""
    best: tuple[int, int, int] | None = None
    for n in node.walk():
        meta = n.meta
        if "line" in meta and "start" in meta:
            col = meta["col"] - (meta["end"] - meta["start"])
            candidate = (meta["start"], meta["line"], col)
            best = candidate if best is None or candidate < best else best
    return (best[1], best[2]) if best else (None, None)


def _refuse(reason: str, node: exp.Expr | None = None, hint: str = "") -> QueryNotAllowed:
    line, col = _position(node) if node is not None else (None, None)
    return QueryNotAllowed(reason, line, col, hint=hint)


def _single_select(sql: str) -> exp.Select:
    try:
        statements = [s for s in sqlglot.parse(sql) if s is not None]
    except sqlglot.errors.ParseError as err:
        first = err.errors[0] if err.errors else {}
        description = str(first.get("description", ""))
        near = str(first.get("highlight", "")).strip()
        reason = "the SQL could not be parsed" + (f" ({description})" if "<" not in description else "")
        reason += f' near "{near}"' if near else ""
        col = first.get("col")
        if isinstance(col, int) and near:
            col = max(1, col - len(near) + 1)  # sqlglot reports where the offending token ends
        raise QueryNotAllowed(reason, first.get("line"), col, hint="check the syntax near that position") from None
    except sqlglot.errors.SqlglotError as err:
        raise QueryNotAllowed(f"the SQL could not be read ({err})", hint="check quotes and brackets") from None
    if not statements:
        raise QueryNotAllowed("the query is empty", hint=f"write one SELECT statement; {_AGG_HINT}")
    if len(statements) > 1:
        raise _refuse("several statements are not allowed", statements[1],
                      "send exactly one SELECT statement, without a second one after ';'")
    _mark_text_units(sql, statements[0])
    return _check_statement(statements[0])


def _mark_text_units(sql: str, tree: exp.Expr) -> None:
    """Mark DATE_TRUNC('unit', …) whose first argument is a string: sqlglot turns an identifier there into the
    same string literal, and only an identifier may be BigQuery's column-first order (see `_bucket_parts`)."""
    tokens = Tokenizer().tokenize(sql)
    texts = {a.start for a, b, c in zip(tokens, tokens[1:], tokens[2:], strict=False)
             if b.token_type == TokenType.L_PAREN and c.token_type == TokenType.STRING}
    for node in tree.find_all(*_TRUNCS):
        if node.meta.get("start") in texts:
            node.meta["unit_is_text"] = True


def _check_statement(tree: exp.Expr) -> exp.Select:
    if isinstance(tree, exp.SetOperation):
        name = tree.key.upper()
        raise _refuse(f"{name} is not allowed", tree, "send one SELECT statement; run each part separately")
    if not isinstance(tree, exp.Select):
        raise _refuse(f"{tree.key.upper()} statements are not allowed", tree,
                      f"only a single SELECT is accepted; {_AGG_HINT}")
    for key, value in tree.args.items():
        if value and key not in _SELECT_CLAUSES:
            name = _CLAUSE_NAMES.get(key, key.upper())
            node = value[0] if isinstance(value, list) else value
            raise _refuse(f"{name} is not allowed", node if isinstance(node, exp.Expr) else tree,
                          "only SELECT, FROM, WHERE, GROUP BY, HAVING, ORDER BY and LIMIT may be used")
    _check_nodes(tree)
    return tree


def _check_nodes(tree: exp.Select) -> None:
    """Refuse constructs that are wrong wherever they appear."""
    for node in tree.walk():
        if node is tree:
            continue
        if isinstance(node, (exp.Select, exp.Subquery, exp.SetOperation)):
            raise _refuse("subqueries are not allowed", node, "query the table directly in one SELECT")
        if isinstance(node, (exp.With, exp.CTE)):
            raise _refuse("WITH (common table expressions) is not allowed", node, "query the table directly")
        if isinstance(node, exp.Join):
            raise _refuse("JOIN is not allowed", node, "query one table at a time")
        if isinstance(node, exp.Window):
            raise _refuse("window functions (OVER ...) are not allowed", node,
                          "use GROUP BY on a dimension instead")
        if isinstance(node, exp.Distinct) and not isinstance(node.parent, exp.Count):
            raise _refuse("DISTINCT is not allowed", node, "use GROUP BY on a dimension, with COUNT(*)")
        if isinstance(node, exp.Star) and not isinstance(node.parent, exp.Count):
            if node.parent is tree:
                raise _refuse("SELECT * is not allowed", node, _AGG_HINT)
            raise _refuse("* is only allowed in COUNT(*)", node, _AGG_HINT)
        if isinstance(node, (exp.Placeholder, exp.Parameter)):
            raise _refuse("query parameters are not allowed", node, "write constants into the query")


def _number(node: exp.Expr) -> int | float | None:
    """A numeric constant (possibly negative, possibly parenthesised), else None."""
    node = node.unnest()
    if isinstance(node, exp.Neg):
        inner = _number(node.this)
        return -inner if inner is not None else None
    if isinstance(node, exp.Literal) and not node.is_string:
        text = node.this
        try:
            whole = int(text)
            return whole if abs(whole) < 2**63 else float(whole)
        except ValueError:
            value = float(text)
            return value if math.isfinite(value) else None
    return None


def _constant(node: exp.Expr) -> Scalar | None:
    node = node.unnest()
    if isinstance(node, exp.Literal) and node.is_string:
        return str(node.this)
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string \
            and isinstance(node.args.get("to"), exp.DataType) and node.args["to"].this.name in _TIME_TYPES:
        return str(node.this.this)  # DATE '2013-06-01', TIMESTAMP '…': read against the column's kind
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    return _number(node)


def _is_bucket(node: exp.Expr) -> bool:
    if isinstance(node, exp.Anonymous):
        return str(node.this).upper() == "DATE_PART"
    return isinstance(node, (exp.Extract, *_TRUNCS, *_TIME_FUNCS))


def _bucket_parts(node: exp.Expr) -> tuple[BucketFunc, str, exp.Expr | None]:
    """(extract or trunc, the unit as written, the column) of a time-bucket expression."""
    if isinstance(node, exp.Extract):
        return "extract", node.this.name, node.expression
    if isinstance(node, exp.Anonymous):  # DATE_PART('hour', col)
        args = node.expressions
        unit = args[0].name if args and isinstance(args[0], (exp.Literal, exp.Var, exp.Column)) else ""
        return "extract", unit, args[1] if len(args) == 2 else None
    if isinstance(node, _TRUNCS):
        unit_node, column = node.args.get("unit"), node.this
        unit = unit_node.name if isinstance(unit_node, (exp.Literal, exp.Var)) else ""
        if unit.upper() not in _TIME_UNITS and isinstance(column, exp.Column) and column.name.upper() in _TIME_UNITS \
                and not node.meta.get("unit_is_text"):
            # DATE_TRUNC(col, MONTH), BigQuery's order, is read by sqlglot's default dialect the other way round
            return "trunc", column.name, exp.column(unit)
        return "trunc", unit, column
    return "extract", _TIME_FUNCS[type(node)], node.this


def _width_parts(node: exp.Expr) -> tuple[exp.Column, int | float, bool] | None:
    """(column, width, scaled) of FLOOR(col / w) * w, w * FLOOR(col / w) or FLOOR(col / w), else None."""
    node = node.unnest()
    factor = None
    if isinstance(node, exp.Mul):
        left, right = node.this.unnest(), node.expression.unnest()
        node, factor = (left, _number(right)) if isinstance(left, exp.Floor) else (right, _number(left))
        if factor is None:
            return None
    if not isinstance(node, exp.Floor) or node.args.get("decimals") is not None:
        return None
    inner = node.this.unnest()
    if not isinstance(inner, exp.Div) or not isinstance(inner.this.unnest(), exp.Column):
        return None
    width = _number(inner.expression)
    if width is None or (factor is not None and factor != width):
        return None
    return inner.this.unnest(), width, factor is not None


def _is_bin(node: exp.Expr) -> bool:
    node = node.unnest()
    if isinstance(node, exp.Case):
        return not any(_is_aggregate(n) for n in node.walk())
    return _width_parts(node) is not None


def _group_label(name: str) -> str:
    found = bucket_of(name) or bin_of(name)
    assert found is not None
    return found.label


def _bucket_example(func: BucketFunc) -> str:
    return "EXTRACT(MONTH FROM trip_date)" if func == "extract" else "DATE_TRUNC('month', trip_date)"


def _is_aggregate(node: exp.Expr) -> bool:
    if isinstance(node, exp.Anonymous):
        return str(node.this).upper() in _NAMED_VARIANCES
    return isinstance(node, (exp.AggFunc, exp.WithinGroup, exp.Count))


def _fmt(value: float) -> str:
    return format(value, "g")


@dataclass
class _Operand:
    """The left side of a comparison: a column of the table (WHERE) or of the result (HAVING)."""

    name: str
    dtype: str


@dataclass
class _Parser:
    table: TableInfo
    policy: Policy
    select: exp.Select
    qualifiers: set[str] = field(default_factory=set)
    aggregates: list[tuple[Aggregate, exp.Expr]] = field(default_factory=list)
    selected_dims: list[str] = field(default_factory=list)
    group_aliases: dict[str, str] = field(default_factory=dict)  # column → its name in the result
    computed: list[tuple[str, Post]] = field(default_factory=list)  # hidden columns of HAVING / ORDER BY
    buckets: dict[str, exp.Expr] = field(default_factory=dict)  # time bucket → where it is written
    where: Filter | None = None

    def spec(self) -> QuerySpec:
        self._check_from()
        for item in self.select.expressions:
            self._select_item(item)
        if not self.aggregates and self.selected_dims and self.select.args.get("group") is not None:
            # Only the group keys are asked for: a noisy count is measured (and charged) so that the
            # listing's minimum group size, HAVING and ORDER BY can act on it; it is never shown.
            self.computed.append(("__rows", ("agg", Aggregate("", "count"))))
        elif not self.aggregates and self.selected_dims:
            raise _refuse(f'selecting the raw column "{self.selected_dims[0]}" is not allowed',
                          self.select.expressions[0],
                          f"raw values are never released; aggregate it, e.g. SELECT {self.selected_dims[0]}, "
                          f"COUNT(*) FROM {self.table.name} GROUP BY {self.selected_dims[0]}")
        if not self.aggregates and not self.computed:
            raise _refuse("the query selects no aggregate", self.select, _AGG_HINT)
        if self.aggregates and not self.computed and all(not a.leaves() for a, _ in self.aggregates):
            raise _refuse("selecting constants is not allowed", self.select, _AGG_HINT)
        self.where = self._where()
        group_by = self._group_by()
        self._check_aliases(group_by)
        having = self._having(group_by)
        order_by = self._order_by(group_by)
        names = tuple(self.group_aliases.get(g, g) for g in group_by)
        spec = QuerySpec(
            table=self.table.name,
            aggregates=tuple(a for a, _ in self.aggregates),
            group_by=group_by,
            where=self.where,
            having=having,
            order_by=order_by,
            limit=self._limit(),
            group_names=names if names != group_by else (),
            computed=tuple(self.computed),
        )
        return QuerySpec(**{**spec.__dict__, "normalized_sql": self._normalized(spec)})

    # FROM and columns

    def _check_from(self) -> None:
        from_ = self.select.args.get("from_") or self.select.args.get("from")
        if from_ is None:
            raise _refuse("the query has no FROM clause", self.select, f"add FROM {self.table.name}")
        source = from_.this
        if not isinstance(source, exp.Table) or not isinstance(source.this, exp.Identifier):
            raise _refuse("FROM must name one table", source, f"use FROM {self.table.name}")
        if source.args.get("db") or source.args.get("catalog"):
            raise _refuse("schema-qualified table names are not allowed", source,
                          f"use FROM {self.table.name}")
        if source.name.lower() != self.table.name.lower():
            raise _refuse(f'unknown table "{source.name}"', source,
                          f"this dataset is queried as FROM {self.table.name}")
        _check_source(source)
        self.qualifiers = {source.name.lower()}
        if source.alias:
            self.qualifiers.add(source.alias.lower())

    def _column(self, node: exp.Column, *, unit: bool = False) -> ColumnInfo:
        if node.args.get("db") or node.args.get("catalog"):
            raise _refuse("qualified column names are not allowed", node, "write the plain column name")
        if node.table and node.table.lower() not in self.qualifiers:
            raise _refuse(f'unknown table "{node.table}"', node, f"columns come from {self.table.name}")
        ident = node.this
        info = self.table.column(node.name, exact=isinstance(ident, exp.Identifier) and ident.quoted)
        if info is None:
            usable = ", ".join(c.name for c in self.table.columns if c.role in ("dimension", "measure"))
            raise _refuse(f'unknown column "{node.name}"', node, f"columns you can use: {usable}")
        if info.role == "identifier" and not (unit and info.name == self.table.privacy_unit):
            raise _refuse(f'column "{info.name}" is an identifier and cannot be used in a query', node,
                          "identifiers are never released; query dimensions and measures")
        if info.role == "excluded":
            raise _refuse(f'column "{info.name}" is excluded by the data dictionary', node,
                          "query dimensions and measures only")
        if info.dtype not in ("string", "int", "float", "bool", "date", "datetime"):
            raise _refuse(f'column "{info.name}" has type {info.dtype}, which queries cannot use', node,
                          "query text, integer, decimal or boolean columns")
        return info

    # SELECT list and aggregates

    def _select_item(self, item: exp.Expr) -> None:
        alias = item.args["alias"] if isinstance(item, exp.Alias) else None
        body = item.this if isinstance(item, exp.Alias) else item
        if isinstance(body, exp.Column):
            info = self._column(body)
            if alias is not None and alias.name != info.name:
                label = alias.name if alias.quoted else alias.name.lower()
                if self.group_aliases.get(info.name, label) != label:
                    raise _refuse(f'column "{info.name}" is renamed twice', alias, "give it one name with AS")
                self.group_aliases[info.name] = label
            self.selected_dims.append(info.name)
            return
        if _is_bucket(body) or _is_bin(body):
            name = self._bucket(body) if _is_bucket(body) else self._bin(body)
            label = alias.name if alias is not None and alias.quoted else \
                alias.name.lower() if alias is not None else _group_label(name)
            if self.group_aliases.get(name, label) != label:
                raise _refuse(f"{body.sql()} is selected twice under different names", item,
                              "select it once")
            self.group_aliases[name] = label
            self.selected_dims.append(name)
            return
        agg = self._output(body)
        name = alias.name if alias is not None else self._default_alias(agg)
        if alias is not None and not alias.quoted:
            name = name.lower()
        self.aggregates.append((Aggregate(name, agg.kind, agg.column, agg.bounds, agg.quantile, agg.post), item))

    def _output(self, node: exp.Expr) -> Aggregate:
        """An aggregate, or an expression over aggregates (post-processing of released values)."""
        node = node.unnest()
        if _number(node) is not None:
            return Aggregate("", "expr", post=("num", _number(node)))  # a constant column beside the aggregates
        if _is_aggregate(node) or not any(_is_aggregate(n) for n in node.walk()):
            return self._aggregate(node)
        return Aggregate("", "expr", post=self._post(node, self._post_leaf, self._raw_in_expression))

    def _post_leaf(self, node: exp.Expr) -> Post:
        agg = self._aggregate(node)
        return agg.post if agg.post is not None else ("agg", agg)

    def _raw_in_expression(self, node: exp.Column) -> Post:
        raise _refuse(f'the raw column "{self._column(node).name}" cannot appear outside an aggregate', node,
                      "expressions may combine aggregates and constants, e.g. SUM(income) / COUNT(*)")

    def _post(self, node: exp.Expr, leaf: Callable[[exp.Expr], Post],
              column: Callable[[exp.Column], Post]) -> Post:
        """An expression over released values, as a `Post` tree; refuses what is not post-processing."""
        node = node.unnest()
        value = _number(node)
        if value is not None:
            return ("num", value)
        if _is_aggregate(node):
            return leaf(node)
        if isinstance(node, exp.Column):
            return column(node)
        if type(node) in _POST_BINARY:
            return (_POST_BINARY[type(node)], self._post(node.this, leaf, column),
                    self._post(node.expression, leaf, column))
        if isinstance(node, exp.Neg):
            return ("neg", self._post(node.this, leaf, column))
        if type(node) in _POST_FUNCS:
            return (_POST_FUNCS[type(node)], self._post(node.this, leaf, column))
        if isinstance(node, exp.Round):
            digits = _number(node.args["decimals"]) if node.args.get("decimals") is not None else 0
            if not isinstance(digits, int) or not 0 <= digits <= 15:
                raise _refuse("ROUND takes a whole number of decimals from 0 to 15", node,
                              "write e.g. ROUND(AVG(age), 1)")
            return ("ROUND", self._post(node.this, leaf, column), ("num", digits))
        if isinstance(node, exp.Log):
            return self._log(node, leaf, column)
        if isinstance(node, (exp.Cast, exp.TryCast)):
            return (self._cast(node), self._post(node.this, leaf, column))
        name = node.sql_name() if isinstance(node, exp.Func) and not isinstance(node, exp.Anonymous) \
            else (str(node.this).upper() if isinstance(node, exp.Anonymous) else node.key.upper())
        raise _refuse(f"{name} is not allowed on released values", node,
                      "use + - * /, POWER, SQRT, ABS, ROUND, FLOOR, CEIL, EXP, LN, LOG, SIGN or CAST")

    def _log(self, node: exp.Log, leaf: Callable[[exp.Expr], Post], column: Callable[[exp.Column], Post]) -> Post:
        if node.expression is None:
            raise _refuse("LOG with one argument means the natural logarithm in some databases and base 10 in "
                          "others", node, "write LN(x), LOG10(x) or LOG(base, x)")
        base = _number(node.this)
        if base is None or base <= 0 or base == 1:
            raise _refuse("LOG needs a constant base above 0 other than 1", node, "write e.g. LOG(10, x)")
        inner = self._post(node.expression, leaf, column)
        return ("LOG10", inner) if base == 10 else ("div", ("LN", inner), ("num", math.log(base)))

    def _cast(self, node: exp.Cast) -> str:
        to = node.args["to"].this.name if isinstance(node.args.get("to"), exp.DataType) else ""
        if to in _INT_TYPES:
            return "CAST_INT"
        if to in _FLOAT_TYPES:
            return "CAST_FLOAT"
        raise _refuse(f"CAST to {to or 'this type'} is not allowed on released values", node,
                      "cast to INT, BIGINT, FLOAT, DOUBLE or DECIMAL")

    def _aggregate(self, node: exp.Expr) -> Aggregate:
        node = node.unnest()
        if isinstance(node, exp.Count):
            return self._count(node)
        if isinstance(node, (exp.Sum, exp.Avg)):
            kind: AggKind = "sum" if isinstance(node, exp.Sum) else "avg"
            if isinstance(node.this.unnest(), exp.Case):
                case = self._case(node.this.unnest())
                return Aggregate("", kind, case.key, case.bounds())
            info, bounds = self._measure(node.this, node)
            return Aggregate("", kind, info.name, bounds)
        if isinstance(node, exp.Median):
            return self._quantile(node.this, 0.5, node)
        if isinstance(node, exp.Quantile):
            return self._quantile(node.this, self._level(node.args.get("quantile"), node), node)
        if isinstance(node, exp.WithinGroup):
            return self._within_group(node)
        spread = _VARIANCES.get(type(node))
        if isinstance(node, exp.Anonymous):
            spread = _NAMED_VARIANCES.get(str(node.this).upper())
            if spread is not None and len(node.expressions) != 1:
                raise _refuse(f"{str(node.this).upper()} takes one measure column", node, "write e.g. VAR(age)")
        if spread is not None:
            arg = node.expressions[0] if isinstance(node, exp.Anonymous) else node.this
            if isinstance(arg.unnest(), exp.Case):
                raise _refuse("CASE is allowed inside SUM, AVG and COUNT only", arg,
                              "for the spread of a measure over some rows, filter them with WHERE")
            info, bounds = self._measure(arg, node)
            return Aggregate("", spread[0], info.name, bounds, float(spread[1]))
        raise self._not_aggregate(node)

    def _not_aggregate(self, node: exp.Expr) -> QueryNotAllowed:
        if isinstance(node, exp.Func):
            name = node.sql_name() if not isinstance(node, exp.Anonymous) else str(node.this).upper()
            if name in _NOT_DP_FUNCS:
                return _refuse(f"{name} is not supported", node,
                               "extremes cannot be released privately; use PERCENTILE_CONT(0.99) "
                               "WITHIN GROUP (ORDER BY column) or another quantile")
            return _refuse(f"function {name} is not allowed", node,
                           "use COUNT, SUM, AVG, MEDIAN, PERCENTILE_CONT or QUANTILE")
        if isinstance(node, (exp.Binary, exp.Cast)):
            return _refuse("expressions over raw columns are not allowed in the SELECT list", node,
                           "aggregate first: expressions over aggregates such as SUM(age) * 2 are allowed")
        if isinstance(node, (exp.Literal, exp.Boolean, exp.Null, exp.Neg)):
            return _refuse("selecting constants is not allowed", node, _AGG_HINT)
        return _refuse(f"{node.key.upper()} is not allowed in the SELECT list", node, _AGG_HINT)

    def _count(self, node: exp.Count) -> Aggregate:
        arg = node.this
        if arg is None or isinstance(arg, exp.Star) or _number(arg) == 1:
            return Aggregate("", "count")
        if isinstance(arg, exp.Column):
            return Aggregate("", "count", self._column(arg, unit=True).name)
        if isinstance(arg, exp.Distinct):
            return self._count_distinct(arg)
        if isinstance(arg.unnest(), exp.Case):
            return Aggregate("", "count", self._case(arg.unnest()).key)
        raise _refuse("COUNT accepts *, or a single column", arg, "use COUNT(*) or COUNT(column)")

    def _case(self, node: exp.Case) -> Case:
        """CASE WHEN inside SUM, AVG or COUNT: WHERE-like conditions, each value a constant, a measure
        (optionally clamped) or NULL; the SUM's bounds are those of the values (and 0)."""
        if node.this is not None:
            raise _refuse("CASE <expression> WHEN … is not supported", node,
                          "write CASE WHEN column = value THEN … END")
        whens = tuple((_condition(when.this, self._where_operand, "CASE WHEN"), self._branch(when.args["true"]))
                      for when in node.args["ifs"])
        default = node.args.get("default")
        otherwise = self._branch(default) if default is not None else ("null",)
        values = [b for _, b in whens] + [otherwise]
        whole = all((b[0] == "num" and isinstance(b[1], int)) or (b[0] == "col" and isinstance(b[2], int))
                    or b[0] == "null" for b in values)
        return Case(whens=whens, otherwise=otherwise, dtype="int" if whole else "float")

    def _branch(self, node: exp.Expr) -> tuple[Any, ...]:
        node = node.unnest()
        value = _number(node)
        if value is not None:
            return ("num", value)
        if isinstance(node, exp.Null):
            return ("null",)
        if isinstance(node, exp.Boolean):
            return ("num", int(bool(node.this)))
        if isinstance(node, exp.Case):
            raise _refuse("CASE inside CASE is not supported", node, "combine the conditions with AND / OR")
        if not isinstance(node, (exp.Column, exp.Greatest, exp.Least, exp.Anonymous)):
            raise _refuse("CASE values must be numbers, measure columns or NULL", node,
                          "e.g. CASE WHEN region = 'north' THEN income ELSE 0 END")
        info, bounds = self._measure(node, node)
        return ("col", info.name, bounds[0], bounds[1])

    def _count_distinct(self, node: exp.Distinct) -> Aggregate:
        """COUNT(DISTINCT unit): how many persons; one person adds at most 1 to it (in each group)."""
        args = node.expressions
        if len(args) != 1 or not isinstance(args[0], exp.Column):
            raise _refuse("COUNT(DISTINCT ...) takes a single column", node, "write COUNT(DISTINCT <privacy unit>)")
        info = self._column(args[0], unit=True)
        if info.name != self.table.privacy_unit:
            unit = self.table.privacy_unit
            raise _refuse(f'COUNT(DISTINCT "{info.name}") is not supported: only the privacy unit can be counted '
                          "distinctly", node,
                          (f"COUNT(DISTINCT {unit}) counts persons; " if unit else "") +
                          f"for the values of {info.name}, GROUP BY it with COUNT(*) (a distinct count of "
                          "values would reveal which rare values occur)")
        return Aggregate("", "count_distinct", info.name)

    def _within_group(self, node: exp.WithinGroup) -> Aggregate:
        func = node.this
        order = node.expression
        if not isinstance(func, exp.PercentileCont):
            name = func.sql_name() if isinstance(func, exp.Func) else func.key.upper()
            raise _refuse(f"{name} ... WITHIN GROUP is not allowed", node,
                          "use PERCENTILE_CONT(p) WITHIN GROUP (ORDER BY column)")
        if not isinstance(order, exp.Order) or len(order.expressions) != 1:
            raise _refuse("WITHIN GROUP needs exactly one ORDER BY column", node,
                          "write PERCENTILE_CONT(p) WITHIN GROUP (ORDER BY column)")
        ordered = order.expressions[0]
        level = self._level(func.this, func)
        if ordered.args.get("desc"):
            level = 1.0 - level  # the p-th value from the top is the (1-p)-th from the bottom
        return self._quantile(ordered.this, level, node)

    def _level(self, node: exp.Expr | None, where: exp.Expr) -> float:
        value = _number(node) if node is not None else None
        if value is None or not 0 < value < 1:
            raise _refuse("the quantile level must be a number strictly between 0 and 1", node or where,
                          "for example 0.5 for the median or 0.9 for the 90th percentile")
        return float(value)

    def _quantile(self, arg: exp.Expr, level: float, node: exp.Expr) -> Aggregate:
        if isinstance(arg.unnest(), exp.Case):
            raise _refuse("CASE is allowed inside SUM, AVG and COUNT only", arg,
                          "a quantile ranks one measure's values: filter rows with WHERE instead")
        info, bounds = self._measure(arg, node)
        return Aggregate("", "quantile", info.name, bounds, level)

    def _default_alias(self, agg: Aggregate) -> str:
        column = "case" if case_of(agg.column) is not None else (agg.column or "").lower()
        if agg.kind == "count":
            return f"count_{column}" if column else "count"
        if agg.kind == "count_distinct":
            return f"count_distinct_{column}"
        if agg.kind in ("var", "std"):
            return f"{agg.kind}_{'samp' if agg.quantile else 'pop'}_{column}"
        if agg.kind == "expr":
            return f"expr_{len(self.aggregates) + 1}"
        if agg.kind != "quantile":
            return f"{agg.kind}_{column}"
        assert agg.quantile is not None
        if agg.quantile == 0.5:
            return f"median_{column}"
        return "p" + _fmt(round(agg.quantile * 100, 6)).replace(".", "_") + f"_{column}"

    # measures and bounds

    def _measure(self, node: exp.Expr, agg: exp.Expr) -> tuple[ColumnInfo, tuple[float, float]]:
        """A measure column, optionally narrowed by LEAST/GREATEST/CLAMP; returns it and its bounds."""
        node = node.unnest()
        if isinstance(node, exp.Column):
            return self._measure_column(node)
        if isinstance(node, (exp.Greatest, exp.Least)):
            inner, limit = self._clip_args([node.this, *node.expressions], node)
            info, (lo, hi) = self._measure(inner, agg)
            if isinstance(node, exp.Greatest):
                return info, self._narrow(info, (limit, hi), (lo, hi), node)
            return info, self._narrow(info, (lo, limit), (lo, hi), node)
        if isinstance(node, exp.Anonymous) and str(node.this).upper() == "CLAMP":
            return self._clamp(node, agg)
        raise _refuse(f"{agg.key.upper()} accepts a measure column, optionally clamped", node,
                      "write e.g. SUM(income) or SUM(LEAST(GREATEST(income, 0), 1000))")

    def _measure_column(self, node: exp.Column) -> tuple[ColumnInfo, tuple[float, float]]:
        info = self._column(node)
        if info.role != "measure":
            raise _refuse(f'column "{info.name}" is a {info.role}, not a measure', node,
                          "only measure columns can be summed, averaged or ranked; COUNT(*) counts rows")
        bounds = info.bounds if info.bounds is not None else ((0, 1) if info.dtype == "bool" else None)
        if bounds is None or info.dtype == "string":
            raise _refuse(f'measure "{info.name}" has no bounds in the data dictionary', node,
                          "ask the data provider to set bounds for it")
        if info.dtype in ("int", "bool"):
            return info, (math.ceil(bounds[0]), math.floor(bounds[1]))
        return info, (float(bounds[0]), float(bounds[1]))

    def _clip_args(self, args: list[exp.Expr], node: exp.Expr) -> tuple[exp.Expr, float]:
        numbers = [_number(a) for a in args]
        if len(args) != 2 or numbers.count(None) != 1:
            raise _refuse(f"{node.key.upper()} must combine one column and one constant", node,
                          "write e.g. LEAST(GREATEST(income, 0), 1000)")
        inner = args[0] if numbers[0] is None else args[1]
        limit = numbers[1] if numbers[0] is None else numbers[0]
        assert limit is not None
        return inner, limit

    def _clamp(self, node: exp.Anonymous, agg: exp.Expr) -> tuple[ColumnInfo, tuple[float, float]]:
        args = node.expressions
        limits = [_number(a) for a in args[1:]]
        if len(args) != 3 or None in limits:
            raise _refuse("CLAMP takes a column and two constants", node, "write CLAMP(income, 0, 1000)")
        info, current = self._measure(args[0], agg)
        lo, hi = limits
        assert lo is not None and hi is not None
        return info, self._narrow(info, (lo, hi), current, node)

    def _narrow(self, info: ColumnInfo, new: tuple[float, float], current: tuple[float, float],
                node: exp.Expr) -> tuple[float, float]:
        lo, hi = new
        if lo < current[0] or hi > current[1]:
            raise _refuse(f'the bounds [{_fmt(lo)}, {_fmt(hi)}] would widen the bounds of "{info.name}"',
                          node, f"stay within [{_fmt(current[0])}, {_fmt(current[1])}] from the data dictionary")
        if lo >= hi:
            raise _refuse(f'the bounds [{_fmt(lo)}, {_fmt(hi)}] of "{info.name}" are empty', node,
                          "the lower bound must be below the upper bound")
        if info.dtype in ("int", "bool") and (lo != int(lo) or hi != int(hi)):
            raise _refuse(f'"{info.name}" holds integers, so its bounds must be integers', node,
                          f"use e.g. [{math.ceil(lo)}, {math.floor(hi)}]")
        if info.dtype in ("int", "bool"):
            return int(lo), int(hi)
        return float(lo), float(hi)

    # time buckets

    def _bucket(self, node: exp.Expr) -> str:
        """EXTRACT(unit FROM col), DATE_PART('unit', col), YEAR(col)…, DATE_TRUNC('unit', col): a group column
        whose keys follow from the column's declared period."""
        func, unit_text, column = _bucket_parts(node)
        name = str(node.this).upper() if isinstance(node, exp.Anonymous) else \
            node.sql_name() if isinstance(node, exp.Func) else node.key.upper()
        units = EXTRACT_UNITS if func == "extract" else TRUNC_UNITS
        unit = _TIME_UNITS.get(unit_text.upper())
        if unit not in units:
            raise _refuse(f"{name} by {unit_text or 'this unit'} is not supported", node,
                          "use one of: " + ", ".join(u.upper() for u in units))
        if not isinstance(column, exp.Column):
            raise _refuse(f"{name} takes a date or time column", node, f"write e.g. {_bucket_example(func)}")
        info = self._column(column)
        if info.dtype not in ("date", "datetime"):
            raise _refuse(f'column "{info.name}" is not a date or time column in the data dictionary, so {name} '
                          "cannot be used on it", node,
                          "the data provider declares which columns hold dates or times, with their period")
        if unit == "hour" and info.dtype == "date":
            raise _refuse(f'column "{info.name}" holds dates without a time of day, so it has no hour', node,
                          "use YEAR, QUARTER, MONTH, DAY or DOW")
        if period_of(info) is None:
            raise _refuse(f'column "{info.name}" has no declared period in the data dictionary, so its time '
                          "buckets have no public keys", node,
                          "ask the data provider to declare its first and last date")
        bucket = Bucket(func, unit, info.name)  # type: ignore[arg-type]
        self.buckets.setdefault(bucket.name, node)
        return bucket.name

    def _bucket_keys(self, name: str) -> None:
        """Refuse a bucket with more public keys than a release can carry (after the WHERE's limits)."""
        bucket, node = bucket_of(name), self.buckets[name]
        assert bucket is not None
        info = self.table.column(bucket.column, exact=True)
        assert info is not None
        period = period_of(info)
        assert period is not None
        count = bucket.count(*period)
        if count <= MAX_INTEGER_KEYS * 100:  # listing them is cheap; a WHERE may leave few
            count = len(bucket.keys(info.dtype, *period, self.where))
        if count == 0:
            raise _refuse(f'the WHERE leaves no period of {node.sql()} within the declared period of "{info.name}"',
                          node, f"the declared period is {info.period[0]} to {info.period[1]}")  # type: ignore[index]
        if count > MAX_INTEGER_KEYS:
            raise _refuse(f"grouping by {node.sql()} would make {count:,} groups over the declared period of "
                          f'"{info.name}" ({info.period[0]} to {info.period[1]}), more than {MAX_INTEGER_KEYS}',  # type: ignore[index]
                          node, "most of them would be pure noise: use a coarser unit, or narrow the period with "
                                f"WHERE {info.name} >= DATE '…'")

    # bins of a measure

    def _bin(self, node: exp.Expr) -> str:
        """FLOOR(m / w) * w or FLOOR(m / w) over a measure's bounds, or CASE WHEN … THEN 'label' … END."""
        case = node.unnest()
        if isinstance(case, exp.Case):
            found = self._case_bin(case)
        else:
            column, width, scaled = _width_parts(node)  # type: ignore[misc]
            info = self._column(column)
            if info.role != "measure" or info.dtype not in ("int", "float"):
                raise _refuse(f'column "{info.name}" is a {info.role}, not a numeric measure, so it cannot be binned',
                              node, "bin a measure whose bounds the data dictionary declares")
            if not isinstance(width, int) or width <= 0:
                raise _refuse("the bin width must be a positive whole number", node,
                              f"write e.g. FLOOR({info.name} / 10) * 10")
            found = Bin(column=info.name, width=width, scaled=scaled)
            if info.bounds is None:
                raise _refuse(f'measure "{info.name}" has no bounds in the data dictionary', node,
                              "ask the data provider to set bounds for it")
            count = found.count(info.bounds)
            if count > MAX_INTEGER_KEYS:
                raise _refuse(f"grouping by {node.sql()} would make {count:,} groups over the bounds of "
                              f'"{info.name}", more than {MAX_INTEGER_KEYS}', node,
                              "use a wider bin: most of these groups would be pure noise")
        self.buckets.setdefault(found.name, node)
        return found.name

    def _case_bin(self, node: exp.Case) -> Bin:
        if node.this is not None:
            raise _refuse("CASE <expression> WHEN … is not supported", node,
                          "write CASE WHEN column = value THEN … END")
        whens = []
        for when in node.args["ifs"]:
            condition = _condition(when.this, self._where_operand, "CASE WHEN")
            for name in filter_columns(condition):
                info = self.table.column(name, exact=True)
                if info is not None and info.dtype in ("date", "datetime"):
                    raise _refuse(f'a CASE group cannot test the date column "{name}"', when,
                                  "group by a time bucket of it, or filter it in WHERE")
            whens.append((condition, self._bin_label(when.args["true"])))
        default = node.args.get("default")
        otherwise = self._bin_label(default) if default is not None and not isinstance(default, exp.Null) else None
        found = Bin(whens=tuple(whens), otherwise=otherwise)
        if len({type(v) for v in found.labels}) > 1:
            raise _refuse("the labels of a CASE group must all be text or all whole numbers", node,
                          "e.g. CASE WHEN age < 30 THEN 'under 30' ELSE '30 and over' END")
        return found

    def _bin_label(self, node: exp.Expr) -> Key:
        value = _constant(node)
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise _refuse("the values of a CASE group must be text or whole-number constants", node,
                          "e.g. CASE WHEN age < 30 THEN 'under 30' ELSE '30 and over' END")
        return value

    # GROUP BY

    def _group_by(self) -> tuple[str, ...]:
        group = self.select.args.get("group")
        grouped: list[str] = []
        if group is not None:
            for key, value in group.args.items():
                if value and key != "expressions":
                    raise _refuse(f"GROUP BY {key.upper()} is not allowed", group,
                                  "group by plain dimension columns")
            grouped = [self._group_column(e) for e in group.expressions]
        for name in self.selected_dims:
            if name not in grouped:
                node = self.buckets.get(name) or next(
                    i for i in self.select.expressions if isinstance(i.unalias(), exp.Column)
                    and self._column(i.unalias()).name == name)
                shown = node.sql() if name in self.buckets else name
                raise _refuse(f'column "{shown}" is selected but not grouped', node,
                              "raw values are never released: add it to GROUP BY, or aggregate it")
        ordered = list(dict.fromkeys(self.selected_dims))
        group_by = tuple(ordered + [g for g in dict.fromkeys(grouped) if g not in ordered])
        for name in group_by:
            if bucket_of(name) is not None:
                self._bucket_keys(name)
        return group_by

    def _group_column(self, node: exp.Expr) -> str:
        if _is_bucket(node) or _is_bin(node):
            name = self._bucket(node) if _is_bucket(node) else self._bin(node)
            self.group_aliases.setdefault(name, _group_label(name))
            return name
        if not isinstance(node, exp.Column):
            raise _refuse("GROUP BY accepts dimension columns only", node,
                          "group by plain column names, not expressions or positions")
        renamed = [c for c, label in self.group_aliases.items() if label.lower() == node.name.lower()]
        if not node.table and self.table.column(node.name) is None and len(renamed) == 1:
            return renamed[0]  # GROUP BY the name given with AS in the SELECT list
        info = self._column(node)
        if info.role == "measure":
            return self._measure_keys(info, node)
        if info.dtype in ("date", "datetime"):
            raise _refuse(f'column "{info.name}" holds {"dates" if info.dtype == "date" else "times"}, whose '
                          "values are not public keys, so it cannot be grouped on directly", node,
                          f"group by a time bucket of it, e.g. DATE_TRUNC('month', {info.name}) or "
                          f"EXTRACT(MONTH FROM {info.name})")
        if info.keys is None and not (self.policy.allow_unknown_keys and self.policy.delta > 0):
            raise _refuse(f'the keys of column "{info.name}" are not public, so it cannot be grouped on',
                          node, "group by a dimension whose categories the data dictionary publishes")
        return info.name

    def _measure_keys(self, info: ColumnInfo, node: exp.Expr) -> str:
        """An integer measure groups through every integer within its public bounds, if there are few."""
        count = info.key_count()  # counted, never listed: bounds of [0, 1e12] would be a trillion keys
        if count is None:
            raise _refuse(f'column "{info.name}" is a decimal measure and cannot be grouped on', node,
                          "group by dimension columns, or by an integer measure whose bounds are public")
        if count > MAX_INTEGER_KEYS and self.policy.allow_unknown_keys and self.policy.delta > 0:
            return info.name  # too many to list: grouped like a dimension without public keys (δ applies)
        if count > MAX_INTEGER_KEYS:
            assert info.bounds is not None
            lo, hi = math.ceil(info.bounds[0]), math.floor(info.bounds[1])
            raise _refuse(f'grouping by "{info.name}" would make {count} groups (every integer in '
                          f"[{lo}, {hi}]), more than {MAX_INTEGER_KEYS}", node,
                          "most of them would be pure noise: group by a dimension, or ask the provider for "
                          "narrower bounds or a binned column")
        return info.name

    def _check_aliases(self, group_by: tuple[str, ...]) -> None:
        seen = {self.group_aliases.get(g, g).lower() for g in group_by}
        if len(seen) < len(group_by):
            raise _refuse("two group columns have the same name in the result", self.select,
                          "give each group column a distinct name with AS")
        seen |= {g.lower() for g in group_by}  # a renamed group column still holds its own name until the end
        for agg, node in self.aggregates:
            if agg.alias.startswith("__"):
                raise _refuse(f'the result column name "{agg.alias}" is reserved (names starting with __ are the '
                              "sandbox's own)", node, "choose another name with AS")
            if agg.alias.lower() in seen:
                raise _refuse(f'the result column name "{agg.alias}" is used twice', node,
                              "give each aggregate a distinct name with AS")
            seen.add(agg.alias.lower())

    # WHERE and HAVING

    def _where(self) -> Filter | None:
        where = self.select.args.get("where")
        if where is None:
            return None
        return _condition(where.this, self._where_operand, "WHERE")

    def _where_operand(self, node: exp.Expr) -> _Operand | None:
        if isinstance(node, exp.Column):
            info = self._column(node)
            return _Operand(info.name, info.dtype)
        if isinstance(node, exp.Func):
            raise _refuse(f"functions are not allowed in WHERE ({node.sql()})", node,
                          "compare plain columns with constants")
        return None

    def _having(self, group_by: tuple[str, ...]) -> Filter | None:
        having = self.select.args.get("having")
        if having is None:
            return None
        return _condition(having.this, lambda n: self._result_operand(n, group_by, "HAVING"), "HAVING")

    def _result_types(self, group_by: tuple[str, ...]) -> dict[str, str]:
        types = {a.alias: self._result_dtype(a) for a, _ in self.aggregates}
        types.update({g: self._column_dtype(g) for g in group_by})
        return types

    def _result_column(self, node: exp.Column, group_by: tuple[str, ...], clause: str) -> _Operand:
        """A result column by its result name, or a group column by its dictionary name."""
        types = self._result_types(group_by)
        labels = {self.group_aliases[g]: g for g in group_by if g in self.group_aliases}
        visible = {**types, **{label: types[g] for label, g in labels.items()}}
        if not node.table:
            name = node.name if node.this.quoted else self._result_name(node.name, visible)
            if name in visible:
                name = labels.get(name, name)
                return _Operand(name, types[name])
        raise _refuse(f'{clause} can only use columns of the result; "{node.name}" is not one', node,
                      f"use one of: {', '.join(visible)}")

    def _result_operand(self, node: exp.Expr, group_by: tuple[str, ...], clause: str) -> _Operand | None:
        """A result column (by name), an aggregate, or an expression over them: all released values.

        An aggregate or expression that is not a selected column becomes a hidden computed column, so
        `HAVING COUNT(*) > 10` or `ORDER BY CAST(n AS INT)` is post-processing of the same release."""
        node = node.unnest()
        if isinstance(node, exp.Column):
            return self._result_column(node, group_by, clause)
        if _constant(node) is not None or isinstance(node, exp.Null):
            return None
        if not (_is_aggregate(node) or type(node) in _POST_BINARY or type(node) in _POST_FUNCS
                or isinstance(node, (exp.Neg, exp.Func, exp.Cast, exp.TryCast))):
            return None
        post = self._post(node, self._post_leaf, lambda c: ("col", self._result_column(c, group_by, clause).name))
        for agg, _ in self.aggregates:
            if (agg.post if agg.post is not None else ("agg", replace(agg, alias=""))) == post:
                return _Operand(agg.alias, self._result_dtype(agg))
        name = f"__c{len(self.computed)}"
        self.computed.append((name, post))
        return _Operand(name, self._post_dtype(post, self._result_types(group_by)))

    def _result_name(self, name: str, types: dict[str, str]) -> str:
        matches = [t for t in types if t.lower() == name.lower()]
        return matches[0] if len(matches) == 1 else name

    def _column_dtype(self, name: str) -> str:
        bucket = bucket_of(name) or bin_of(name)
        if bucket is not None:
            return bucket.dtype
        case = case_of(name)
        if case is not None:
            return case.dtype
        info = self.table.column(name, exact=True)
        assert info is not None
        return info.dtype

    def _result_dtype(self, agg: Aggregate) -> str:
        if agg.kind in ("count", "count_distinct"):
            return "int"
        if agg.kind in ("avg", "var", "std"):
            return "float"
        if agg.post is not None:
            return self._post_dtype(agg.post, {})
        return "int" if self._column_dtype(agg.column or "") in ("int", "bool") else "float"

    def _post_dtype(self, post: Post, types: dict[str, str]) -> str:
        """SQL's types for arithmetic on released values: whole numbers stay whole except through /."""
        op, args = post[0], post[1:]
        if op == "num":
            return "int" if isinstance(args[0], int) else "float"
        if op == "agg":
            return self._result_dtype(args[0])
        if op == "col":
            return types.get(args[0], "float")
        if op == "CAST_INT":
            return "int"
        inner = [self._post_dtype(a, types) for a in args]
        if op in ("add", "sub", "mul", "neg", "ABS", "SIGN", "ROUND", "FLOOR", "CEIL") and \
                all(t == "int" for t in inner[:1 if op in ("ROUND",) else None]):
            return "int"
        return "float"

    # ORDER BY and LIMIT

    def _order_by(self, group_by: tuple[str, ...]) -> tuple[OrderItem, ...]:
        order = self.select.args.get("order")
        if order is None:
            return ()
        columns = group_by + tuple(a.alias for a, _ in self.aggregates)
        items = []
        for ordered in order.expressions:
            position = _number(ordered.this)
            if isinstance(position, int) and 1 <= position <= len(columns):
                name = columns[position - 1]
            else:
                operand = self._result_operand(ordered.this, group_by, "ORDER BY")
                if operand is None:
                    raise _refuse("ORDER BY must name a column of the result", ordered,
                                  f"use one of: {', '.join(columns)}")
                name = operand.name
            items.append(OrderItem(name, bool(ordered.args.get("desc"))))
        return tuple(items)

    def _limit(self) -> int | None:
        limit = self.select.args.get("limit")
        if limit is None:
            return None
        value = _number(limit.expression) if isinstance(limit, exp.Limit) else None
        if not isinstance(value, int) or value < 0:
            raise _refuse("LIMIT must be a non-negative whole number", limit, "write e.g. LIMIT 10")
        return value

    # normalized text

    def _normalized(self, spec: QuerySpec) -> str:
        """Canonical SQL: identifiers resolved to dictionary names, explicit aliases, no comments."""
        tree = self.select.copy()
        results = {name.lower(): name for name in spec.columns}
        for node in list(tree.find_all(exp.Column)):
            info = self.table.column(node.name, exact=node.this.quoted)
            name = info.name if info is not None else results.get(node.name.lower(), node.name)
            node.replace(exp.column(_ident(name)))
        from_ = tree.args.get("from_") or tree.args.get("from")
        assert from_ is not None
        from_.this.replace(exp.table_(_ident(self.table.name.lower())))
        for item, (agg, _) in zip(self._aggregate_items(tree), self.aggregates, strict=True):
            item.replace(exp.alias_(item.unalias(), _ident(agg.alias)))
        for ordered in list(tree.find_all(exp.Ordered)):
            ordered.replace(_ordered(ordered.this, bool(ordered.args.get("desc"))))
        if spec.order_by:
            hidden = {name for name, _ in spec.computed}
            written = [o.this for o in tree.args["order"].expressions] if tree.args.get("order") else []
            tree.set("order", exp.Order(expressions=[
                _ordered(written[i] if o.column in hidden else exp.column(_ident(self._label(o.column, spec))),
                         o.descending) for i, o in enumerate(spec.order_by)]))
        return tree.sql(comments=False)

    def _label(self, column: str, spec: QuerySpec) -> str:
        return dict(zip(spec.group_by, spec.group_labels, strict=True)).get(column, column)

    def _aggregate_items(self, tree: exp.Select) -> list[exp.Expr]:
        return [i for i in tree.expressions
                if not isinstance(i.unalias(), exp.Column) and not _is_bucket(i.unalias()) and not _is_bin(i.unalias())]


def _check_source(source: exp.Table) -> None:
    """Table clauses the sandbox would otherwise parse and ignore: refused, so what runs is what was asked."""
    if source.args.get("sample"):
        raise _refuse("TABLESAMPLE is not allowed", source.args["sample"],
                      "every query runs over the whole table; the noise already protects each person")
    alias = source.args.get("alias")
    if alias is not None and alias.args.get("columns"):
        raise _refuse("renaming columns in FROM (AS t(col, ...)) is not allowed", alias,
                      "use the dictionary's column names; rename results with AS in the SELECT list")


def _ident(name: str) -> exp.Identifier:
    # Quote mixed-case names so the canonical text still means the same query when parsed again.
    return exp.to_identifier(name, quoted=True if name != name.lower() else None)


def _ordered(this: exp.Expr, desc: bool) -> exp.Ordered:
    # Nulls placement is not part of our surface; fixing it keeps the canonical text stable.
    return exp.Ordered(this=this, desc=desc, nulls_first=not desc)


def _condition(node: exp.Expr, operand: Callable[[exp.Expr], _Operand | None],
               clause: str) -> Filter:
    """Translate a boolean condition over operands and constants into a Filter tree."""
    node = node.unnest()
    if isinstance(node, (exp.And, exp.Or)):
        parts = tuple(_condition(p, operand, clause) for p in node.flatten())
        return BoolOp("and", parts) if isinstance(node, exp.And) else BoolOp("or", parts)
    if isinstance(node, exp.Not):
        inner = node.this.unnest()
        if isinstance(inner, exp.Is):
            return _is_null(inner, operand, clause, negate=True)
        return BoolOp("not", (_condition(inner, operand, clause),))
    if isinstance(node, exp.Is):
        return _is_null(node, operand, clause, negate=False)
    if type(node) in _COMPARE_OPS:
        return _comparison(node, operand, clause)
    if isinstance(node, exp.In):
        return _in(node, operand, clause)
    if isinstance(node, exp.Between):
        return _between(node, operand, clause)
    side = operand(node)
    if side is not None and side.dtype == "bool":
        return Comparison(side.name, "=", True)
    if side is not None:
        raise _refuse(f'"{side.name}" is not a TRUE/FALSE column, so it cannot stand alone as a condition', node,
                      f"compare it with a constant, e.g. {side.name} = 1")
    name = node.sql_name() if isinstance(node, exp.Func) else node.key.upper()
    raise _refuse(f"{name} is not allowed in {clause}", node,
                  "use =, <>, <, <=, >, >=, IN, BETWEEN, IS NULL, AND, OR and NOT with constants")


def _operand_of(node: exp.Expr, operand: Callable[[exp.Expr], _Operand | None],
                clause: str) -> _Operand:
    side = operand(node.unnest())
    if side is None:
        raise _refuse(f"{clause} must compare a column with constants", node,
                      "comparisons between columns or expressions are not allowed")
    return side


def _typed(value: Scalar | None, side: _Operand, node: exp.Expr) -> Scalar:
    if value is None:
        raise _refuse(f'"{side.name}" must be compared with a constant', node,
                      "use IS NULL / IS NOT NULL to test for missing values")
    if side.dtype in ("date", "datetime"):
        return _time_value(value, side, node)
    ok = {
        "string": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": isinstance(value, (int, float)) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
    }[side.dtype]
    if not ok:
        kind = {"string": "text", "bool": "TRUE or FALSE", "int": "a number", "float": "a number"}[side.dtype]
        raise _refuse(f'"{side.name}" cannot be compared with {node.sql()}', node, f"compare it with {kind}")
    return value


def _time_value(value: Scalar, side: _Operand, node: exp.Expr) -> str:
    """A date or time constant, in canonical ISO text: what the column's values are compared with."""
    moment = as_datetime(parse_one(value, "datetime")) if isinstance(value, str) else None
    example = "DATE '2013-06-01'" if side.dtype == "date" else "TIMESTAMP '2013-06-01 08:00'"
    if moment is None:
        raise _refuse(f'"{side.name}" holds {"dates" if side.dtype == "date" else "times"} and cannot be compared '
                      f"with {node.sql()}", node, f"compare it with e.g. {example}")
    if side.dtype == "date":
        if moment.time() != moment.min.time():
            raise _refuse(f'"{side.name}" holds dates, which cannot be compared with a time of day', node,
                          f"compare it with a date, e.g. {example}")
        return iso(moment.date())
    return iso(moment)


def _comparison(node: exp.Expr, operand: Callable[[exp.Expr], _Operand | None],
                clause: str) -> Comparison:
    op = _COMPARE_OPS[type(node)]
    left, right = node.this, node.expression
    if _constant(left) is not None and _constant(right) is None:
        left, right = right, left
        op = _FLIPPED.get(op, op)
    side = _operand_of(left, operand, clause)
    if _constant(right) is None and not isinstance(right.unnest(), exp.Null):
        raise _refuse(f"{clause} must compare a column with constants", node,
                      "comparisons between columns or expressions are not allowed")
    return Comparison(side.name, op, _typed(_constant(right), side, right))


def _is_null(node: exp.Is, operand: Callable[[exp.Expr], _Operand | None], clause: str,
             negate: bool) -> Comparison:
    if not isinstance(node.expression, exp.Null):
        raise _refuse("IS may only test for NULL", node, "write IS NULL or IS NOT NULL")
    side = _operand_of(node.this, operand, clause)
    return Comparison(side.name, "is_not_null" if negate else "is_null")


def _in(node: exp.In, operand: Callable[[exp.Expr], _Operand | None], clause: str) -> Filter:
    if node.args.get("query") or node.args.get("unnest") or not node.expressions:
        raise _refuse("IN needs a list of constants", node, "write e.g. region IN ('north', 'south')")
    side = _operand_of(node.this, operand, clause)
    parts = tuple(Comparison(side.name, "=", _typed(_constant(v), side, v)) for v in node.expressions)
    return parts[0] if len(parts) == 1 else BoolOp("or", parts)


def _between(node: exp.Between, operand: Callable[[exp.Expr], _Operand | None], clause: str) -> Filter:
    side = _operand_of(node.this, operand, clause)
    low, high = node.args["low"], node.args["high"]
    return BoolOp("and", (Comparison(side.name, ">=", _typed(_constant(low), side, low)),
                          Comparison(side.name, "<=", _typed(_constant(high), side, high))))
