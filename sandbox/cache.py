"""The keys under which released answers are stored: safe (nothing stale) and fair (no double charge).

A query is split in two. The **measurement** is the DP part: which noisy statistics, over which rows
(WHERE), per which groups, at which ε, on which data, under which dictionary and policy. The
**post-processing** is everything done to released values afterwards: aliases (of aggregates and of
group columns), column order, AVG as sum over count, VAR/STD from sum, count and sum of squares,
arithmetic and functions on released aggregates (`SUM(x) * 2`, `POWER(AVG(x), 2)`), HAVING, ORDER BY,
LIMIT/TOP, and leaving out the public keys the WHERE clause excludes. One enterprise pays for a
measurement once; any query with the same measurement key is answered from the stored release at no
cost, because post-processing of released values cannot lose more privacy (DP's post-processing theorem).

The measurement key hashes the canonical JSON of:
- the statistics the compiled plan releases (kind, column, bounds, quantile level), as a set,
  so `COUNT(1)`/`COUNT(*)`, reordered SELECT items, other aliases, `AVG(x)` next to `SUM(x),
  COUNT(x)` and `SUM(x) * 1` next to `SUM(x)` meet; an aggregate used only in HAVING or ORDER BY
  is a statistic of the plan too (it is measured, so it is part of the measurement);
- the group columns, as a set, and the WHERE filter in a normal form: nested AND/OR flattened,
  their operands sorted and deduplicated, so `BETWEEN a AND b` equals `>= a AND <= b` and the
  order of conjuncts does not matter; numbers that are whole are written as integers;
- ε as asked, the content digest of the data (never released: re-uploading identical data must
  not reopen re-asking), the whole dictionary, the listing's grade and DP policy, and the public
  table description the plan was compiled against. Change a bound, a key, the unit, k or the policy
  and the old answer is no longer found: the next query is a fresh, charged measurement.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sandbox.plan import Compiled
from sandbox.spec import BoolOp, Comparison, Filter, QuerySpec, TableInfo, post_to_json

KEY_VERSION = 2


def measurement_key(compiled: Compiled, table: TableInfo, epsilon: float, *, content_digest: str,
                    dictionary: dict[str, Any], grade: str, dp_policy: dict[str, Any]) -> str:
    """The key of the DP measurement a query needs (see the module docstring for what it covers)."""
    spec = compiled.spec
    return _digest({
        "v": KEY_VERSION, "part": "measurement",
        "table": spec.table.lower(),
        "stats": sorted(([s.kind, s.column, _numbers(s.bounds), s.level] for s in compiled.stats), key=json.dumps),
        "group_by": sorted(spec.group_by),
        "where": normal_filter(spec.where),
        "epsilon": float(epsilon),
        "data": content_digest,
        "dictionary": dictionary,
        "grade": grade,
        "dp_policy": dp_policy,
        "policy": compiled.policy.to_dict(),
        "compiled_against": table.to_dict(),
    })


def answer_key(measurement: str, spec: QuerySpec) -> str:
    """The key of one post-processing of a measurement: the result columns and what HAVING/ORDER/LIMIT do."""
    key: dict[str, Any] = {
        "v": KEY_VERSION, "part": "answer", "measurement": measurement,
        "columns": list(spec.columns),
        "aggregates": [[a.alias, a.kind, a.column, _numbers(a.bounds), a.quantile] +
                       ([post_to_json(a.post)] if a.post is not None else []) for a in spec.aggregates],
        "having": normal_filter(spec.having),
        "order_by": [[o.column, o.descending] for o in spec.order_by],
        "limit": spec.limit,
    }
    # Added only when used, so the keys of answers stored before these forms existed stay the same.
    if spec.group_names:
        key["group_names"] = list(spec.group_names)
    if spec.computed:
        key["computed"] = [[name, post_to_json(post)] for name, post in spec.computed]
    return _digest(key)


def normal_filter(f: Filter | None) -> Any:
    """A filter tree in a normal form: AND/OR flattened, operands sorted and deduplicated."""
    if f is None:
        return None
    if isinstance(f, Comparison):
        return ["cmp", f.column, f.op, _number(f.value)]
    if f.op == "not":
        return ["not", normal_filter(f.args[0])]
    parts: dict[str, Any] = {}
    for arg in _flatten(f):
        normal = normal_filter(arg)
        parts[json.dumps(normal, sort_keys=True, ensure_ascii=False)] = normal
    if len(parts) == 1:
        return next(iter(parts.values()))
    return [f.op, [parts[k] for k in sorted(parts)]]


def _flatten(f: BoolOp) -> list[Filter]:
    out: list[Filter] = []
    for arg in f.args:
        if isinstance(arg, BoolOp) and arg.op == f.op:
            out.extend(_flatten(arg))
        else:
            out.append(arg)
    return out


def _number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _numbers(values: tuple[float, float] | None) -> list[Any] | None:
    return [_number(v) for v in values] if values is not None else None


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
