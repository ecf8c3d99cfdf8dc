"""A listing's differential-privacy policy: one typed model, its rules as methods, and exact amounts of loss.

The data office owns the policy (it is set at review, floored by the grade); the sandbox and the budget
read it from `DatasetTarget.dp_policy`, never as a dict. Every cap is finite once a grade is known:

- ε per query (`max_epsilon_per_query`), and the default when a query names none;
- ε per licence (the offer's budget, which may not exceed the enterprise cap);
- ε per enterprise across all its licences on one dataset version (`enterprise_epsilon_cap`);
- ε per dataset version across every licensee (`global_epsilon_cap`): the bounded total loss;
- δ, only for grouping by keys that are not public: per query at most 1/(10·n) of the public row
  bound n, and capped per licence, per enterprise and per dataset version.

Amounts of loss are kept as integers of a small unit so that sums are exact on every database:
ε in micro-units (1e-6), δ in atto-units (1e-18). A float such as 0.1 is read by its shortest decimal
spelling ("0.1"), so ten charges of 0.1 are exactly 1.0; float noise (0.30000000000000004) is dropped,
and a charge that is truly not a whole number of units is rounded up (never under-charged), a budget down.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from market.errors import PolicyInvalid

EPSILON_UNITS = 10**6  # integer micro-ε
DELTA_UNITS = 10**18  # integer atto-δ
FLOAT_NOISE = Decimal("1e-6")  # of a unit: what a float sum adds to a decimal amount, not a real fraction


def _units(value: float, scale: int, up: bool) -> int:
    exact = Decimal(str(value)) * scale
    nearest = exact.to_integral_value(rounding=ROUND_HALF_EVEN)
    if abs(exact - nearest) <= FLOAT_NOISE:  # 0.1 + 0.2 is 0.3, not 0.3 and a bit
        return int(nearest)
    return int(exact.to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR))


def epsilon_units(value: float, *, up: bool = True) -> int:
    """ε as integer micro-units: a charge rounds up (`up=True`), a budget or cap down."""
    return _units(value, EPSILON_UNITS, up)


def delta_units(value: float, *, up: bool = True) -> int:
    """δ as integer atto-units, rounded like `epsilon_units`."""
    return _units(value, DELTA_UNITS, up)


def epsilon_of(units: int) -> float:
    """The JSON number for an amount of micro-ε."""
    return units / EPSILON_UNITS


def delta_of(units: int) -> float:
    return units / DELTA_UNITS


@dataclass(frozen=True)
class GradeRules:
    """What a grade imposes: the tightest per-query ε, the smallest group, the dataset's default and highest
    total ε, and the share of it one enterprise gets by default (well below the whole)."""

    max_epsilon_per_query: float
    min_group_size: int
    global_epsilon_cap: float
    global_epsilon_ceiling: float
    enterprise_share: float = 0.25
    unknown_keys: bool = True


GRADE_RULES = {
    "general": GradeRules(max_epsilon_per_query=2.0, min_group_size=0, global_epsilon_cap=40.0,
                          global_epsilon_ceiling=100.0),
    "important": GradeRules(max_epsilon_per_query=0.5, min_group_size=10, global_epsilon_cap=12.0,
                            global_epsilon_ceiling=20.0, unknown_keys=False),
}
# Core data never runs; if a policy is ever needed for it, it gets the strictest rules.
STRICTEST = GRADE_RULES["important"]


def rules_of(grade: str | None) -> GradeRules:
    return GRADE_RULES.get(grade or "important", STRICTEST)


class DpPolicy(BaseModel):
    """A listing's DP policy. Caps left empty by a provider are filled from the grade at review."""

    max_epsilon_per_query: float = Field(default=1.0, gt=0, le=10)
    default_epsilon: float | None = Field(default=None, gt=0, le=10)
    min_group_size: int = Field(default=0, ge=0)
    global_epsilon_cap: float | None = Field(
        default=None, gt=0, le=1000,
        description="ε across all licensees of one dataset version: the most the data can ever lose. Set at "
                    "review (default by grade: general 40, important 12; at most 100 and 20)")
    enterprise_epsilon_cap: float | None = Field(
        default=None, gt=0, le=1000,
        description="ε one enterprise may spend on the dataset version across all its licences (default: a "
                    "quarter of the global cap): buying more licences never buys more loss")
    unknown_keys_delta: float | None = Field(
        default=None, gt=0, lt=1e-3,
        description="δ that lets queries group by dimensions without public keys (general grade only); "
                    "at most 1/(10·n) of the public row bound n is charged per query")
    delta_budget: float | None = Field(
        default=None, gt=0, lt=1e-2,
        description="total δ one licence may spend on such queries (default: 10 queries' worth)")
    enterprise_delta_cap: float | None = Field(
        default=None, gt=0, lt=1e-2, description="δ one enterprise may spend on the dataset version (default: "
                                                 "a quarter of the dataset's δ cap)")
    global_delta_cap: float | None = Field(
        default=None, gt=0, lt=1e-2, description="δ across all licensees of the dataset version (default: 1/n)")

    @model_validator(mode="after")
    def _default_within_cap(self) -> DpPolicy:
        # Refused, never lowered in silence: the provider must see that the two numbers disagree.
        if self.default_epsilon is not None and self.default_epsilon > self.max_epsilon_per_query:
            raise PydanticCustomError("default-above-cap",
                                      "the default ε ({default}) is above the cap per query ({cap})",
                                      {"default": f"{self.default_epsilon:g}",
                                       "cap": f"{self.max_epsilon_per_query:g}"})
        return self

    # --- the grade's floor -------------------------------------------------------------------------------
    def for_grade(self, grade: str | None) -> DpPolicy:
        """The policy in force at a grade: floored by it, with every cap a number. Pure and idempotent, so
        caps left empty follow the grade (raising a grade lowers its default caps at once)."""
        rules = rules_of(grade)
        total = min(self.global_epsilon_cap or rules.global_epsilon_cap, rules.global_epsilon_ceiling)
        enterprise = min(self.enterprise_epsilon_cap or total * rules.enterprise_share, total)
        cap = min(self.max_epsilon_per_query, rules.max_epsilon_per_query, enterprise)
        return self.model_copy(update={
            "max_epsilon_per_query": cap, "default_epsilon": min(self.default_epsilon or cap / 2, cap),
            "min_group_size": max(self.min_group_size, rules.min_group_size),
            "global_epsilon_cap": total, "enterprise_epsilon_cap": enterprise})

    def check(self, grade: str | None) -> None:
        """Refuse caps that contradict each other at this grade (422 with a Chinese sentence)."""
        rules = rules_of(grade)
        total = min(self.global_epsilon_cap or rules.global_epsilon_cap, rules.global_epsilon_ceiling)
        if self.enterprise_epsilon_cap is not None and self.enterprise_epsilon_cap > total:
            raise PolicyInvalid(
                f"The enterprise ε cap ({self.enterprise_epsilon_cap:g}) exceeds the dataset's global ε cap "
                f"({total:g}; at most {rules.global_epsilon_ceiling:g} for {grade} data)",
                zh=f"单个企业的 ε 上限（{self.enterprise_epsilon_cap:g}）超过了数据集的 ε 总上限（{total:g}）")
        caps = [c for c in (self.delta_budget, self.enterprise_delta_cap, self.global_delta_cap) if c is not None]
        if caps != sorted(caps):
            raise PolicyInvalid("δ caps must not grow from the dataset to the enterprise to the licence",
                                zh="δ 上限须满足：单个许可 ≤ 单个企业 ≤ 整个数据集")

    # --- ε ------------------------------------------------------------------------------------------------
    # The properties below are meant for a policy resolved by `for_grade`; on a raw one they fall back to
    # the strictest grade's defaults rather than to no cap at all.
    @property
    def global_cap(self) -> float:
        """The dataset version's total ε."""
        return self.global_epsilon_cap or STRICTEST.global_epsilon_cap

    @property
    def enterprise_cap(self) -> float:
        """The ε one enterprise may spend on the dataset version across its licences."""
        return min(self.enterprise_epsilon_cap or self.global_cap * STRICTEST.enterprise_share, self.global_cap)

    def epsilon_for(self, asked: float | None) -> float:
        """The ε a query runs at: what it asked, else the listing's default (half the per-query cap)."""
        if asked is not None:
            return asked
        return min(self.default_epsilon or self.max_epsilon_per_query / 2, self.max_epsilon_per_query)

    def allows_epsilon(self, epsilon: float) -> bool:
        """Whether one query may cost this much (compared exactly, in micro-units)."""
        return epsilon_units(epsilon) <= epsilon_units(self.max_epsilon_per_query, up=False)

    def largest_offer(self) -> float:
        """The most ε one licence may carry: what one enterprise may spend on the dataset in all."""
        return self.enterprise_cap

    # --- δ ------------------------------------------------------------------------------------------------
    def allows_unknown_keys(self, grade: str) -> bool:
        return rules_of(grade).unknown_keys and grade == "general" and bool(self.unknown_keys_delta)

    def delta_per_query(self, grade: str, row_bound: int) -> float:
        """δ of a query that groups by keys that are not public: the policy's, at most 1/(10·n); 0 if not allowed."""
        if not self.allows_unknown_keys(grade):
            return 0.0
        return min(float(self.unknown_keys_delta or 0.0), 1.0 / (10 * max(row_bound, 1)))

    def global_delta(self, row_bound: int) -> float:
        """The dataset version's total δ: the policy's, else 1/n."""
        return min(self.global_delta_cap or 1.0, 1.0 / max(row_bound, 1))

    def enterprise_delta(self, row_bound: int) -> float:
        return min(self.enterprise_delta_cap or self.global_delta(row_bound) / 4, self.global_delta(row_bound))

    def licence_delta(self, grade: str, row_bound: int) -> float:
        """δ one licence may spend: the policy's `delta_budget`, else 10 queries' worth; at most the enterprise's."""
        wanted = self.delta_budget or 10 * self.delta_per_query(grade, row_bound)
        return min(wanted, self.enterprise_delta(row_bound))
