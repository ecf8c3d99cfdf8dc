"""± at 95% for means and quantiles, from public parameters and released (noisy) values only.

Counts and sums get OpenDP's own accuracy. Means and quantiles need derivations, written here:

**AVG** is a noisy sum over a noisy count. With e_S, e_n their noises and μ* the true (clipped)
mean, the released S/n̂ differs from μ* by exactly (e_S − μ*·e_n)/n̂, where n̂ is the released
count. e_S and μ*·e_n are independent Laplace variables (scales b_S and |μ*|·b_n), and the law of
their sum has a closed form, so the 95% quantile t of |e_S − μ*·e_n| is solved for directly and the
± is t/n̂ — tight, where the old union bound (a_S + B·a_n)/n̂ covered the truth ~100% of the time.
μ* is replaced by the released mean (post-processing of DP output, no raw data). The preview has no
released values: it assumes a group holding its even share of the public row bound and a mean at the
bound farthest from zero (the widest case for a given n).

**Quantiles** come from the exponential mechanism over candidates on a grid within the bounds. With
95% probability the released candidate's rank is within R of the target (`quantile_rank_error`,
on top of the best candidate's own rank error, at most one grid step away). A rank error becomes a
value error through the data's density, which is not public; the ± converts it at the density of n
values spread evenly across the bounds: ± = step + (hi − lo)·R/n, with n the 95% lower bound of a
count the same query releases for the same rows. Without such a count the result's ± is null (the
public row bound may overstate n); the preview assumes the group's share of the row bound.
Where the data are denser than even near the quantile the true error is smaller; across an empty
stretch of the range it can be larger. `accuracy_note` says so beside each quantile.
"""

from __future__ import annotations

import math

ALPHA = 0.05


def laplace_sum_quantile(a: float, c: float, alpha: float = ALPHA) -> float:
    """t with P(|A + C| > t) = alpha, for independent zero-mean Laplace A and C of scales a and c."""
    a, c = max(a, 0.0), max(c, 0.0)
    if min(a, c) <= 1e-12 * max(a, c, 1e-300):
        return max(a, c) * math.log(1 / alpha)

    def tail(t: float) -> float:
        if abs(a - c) <= 1e-9 * max(a, c):
            return math.exp(-t / a) * (1 + t / (2 * a))
        return (a * a * math.exp(-t / a) - c * c * math.exp(-t / c)) / (a * a - c * c)

    lo, hi = 0.0, (a + c) * math.log(2 / alpha) * 2
    while tail(hi) > alpha:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if tail(mid) > alpha else (lo, mid)
    return hi


def mean_plus_minus(sum_scale: float, count_scale: float, mean: float, n: float, bounds: tuple[float, float],
                    alpha: float = ALPHA) -> float | None:
    """± of a released mean S/n̂ (see the module docstring); None when the released count is not positive."""
    lo, hi = bounds
    if not (n > 0 and math.isfinite(n)):
        return None
    mean = min(max(mean, lo), hi) if math.isfinite(mean) else max(abs(lo), abs(hi))
    return min(hi - lo, laplace_sum_quantile(sum_scale, abs(mean) * count_scale, alpha) / n)


def quantile_plus_minus(rank_error: float, step: float, bounds: tuple[float, float], n: float) -> float:
    """± of a released quantile: the rank error converted at an even spread of n values across the bounds."""
    lo, hi = bounds
    if not (n >= 1 and math.isfinite(n)):
        return hi - lo
    return min(hi - lo, step + (hi - lo) * rank_error / n)
