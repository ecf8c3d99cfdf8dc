"""Charts drawn on the server as SVG: no JavaScript, no CDN, and they print.

Each function returns markup for inline use; every chart has a title and an aria-label, so a screen
reader announces what it shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

INK, MUTED, GRID, BAR, BAR_LIGHT, WHISKER = "#1d2733", "#4d5968", "#d9dee5", "#0b5cad", "#dbe8f6", "#b4361f"


@dataclass(frozen=True)
class Scale:
    lo: float
    hi: float
    top: float
    bottom: float

    def __call__(self, value: float) -> float:
        return self.bottom - (value - self.lo) / (self.hi - self.lo) * (self.bottom - self.top)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    return [first + i * step for i in range(math.ceil((hi - first) / step) + 1)]


def short(value: float) -> str:
    """A compact axis label: 1,500, 12k, 3.5M, 0.25."""
    size = abs(value)
    for limit, unit, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if size >= limit:
            return f"{value / unit:.3g}{suffix}"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3g}" if size < 1000 else f"{value:,.0f}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float],
              errors: Sequence[float | None] | None = None, width: int = 640, height: int = 300) -> Markup:
    """Vertical bars with optional ± error bars (whiskers with caps); negative values hang below zero."""
    errs = [e or 0.0 for e in (errors or [None] * len(values))]
    lows = [v - e for v, e in zip(values, errs, strict=True)]
    highs = [v + e for v, e in zip(values, errs, strict=True)]
    ticks = nice_ticks(min([0.0, *lows]), max([0.0, *highs]) or 1.0)
    left, right, top, bottom = 64, width - 16, 34, height - 58
    y = Scale(ticks[0], ticks[-1], top, bottom)
    slot = (right - left) / max(len(values), 1)
    bar_width = min(slot * 0.6, 80)
    parts = [_title(title, width)]
    for tick in ticks:
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="{GRID}"/>'
                     f'<text x="{left - 8}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="12" '
                     f'fill="{MUTED}">{escape(short(tick))}</text>')
    for i, (label, value, err) in enumerate(zip(labels, values, errs, strict=True)):
        centre = left + slot * (i + 0.5)
        top_y, base_y = sorted((y(value), y(0.0)))
        parts.append(f'<rect class="bar" x="{centre - bar_width / 2:.1f}" y="{top_y:.1f}" width="{bar_width:.1f}" '
                     f'height="{max(base_y - top_y, 1):.1f}" fill="{BAR}"><title>{escape(label)}: '
                     f'{escape(short(value))} ± {escape(short(err))}</title></rect>')
        if err > 0:
            parts.append(_whisker(centre, y(value - err), y(value + err), bar_width / 4))
        parts.append(f'<text x="{centre:.1f}" y="{bottom + 18}" text-anchor="middle" font-size="12" '
                     f'fill="{INK}">{escape(_clip(label, max(int(slot / 8), 4)))}</text>')
    parts.append(f'<line x1="{left}" x2="{right}" y1="{y(0.0):.1f}" y2="{y(0.0):.1f}" stroke="{INK}"/>')
    return _svg(title, width, height, parts)


def _whisker(x: float, y_low: float, y_high: float, cap: float) -> str:
    return (f'<g class="error-bar" stroke="{WHISKER}" stroke-width="2">'
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y_low:.1f}" y2="{y_high:.1f}"/>'
            f'<line x1="{x - cap:.1f}" x2="{x + cap:.1f}" y1="{y_low:.1f}" y2="{y_low:.1f}"/>'
            f'<line x1="{x - cap:.1f}" x2="{x + cap:.1f}" y1="{y_high:.1f}" y2="{y_high:.1f}"/></g>')


def gauge(label: str, spent: float, total: float, width: int = 260, height: int = 30) -> Markup:
    """A budget bar: the spent share filled, the rest light, with the numbers spelled out in `label`."""
    share = 0.0 if total <= 0 else min(max(spent / total, 0.0), 1.0)
    fill = "#b4361f" if share >= 0.9 else BAR
    inner = width - 2
    parts = [f'<rect x="1" y="4" width="{inner}" height="{height - 8}" rx="4" fill="{BAR_LIGHT}" stroke="{GRID}"/>',
             f'<rect class="spent" x="1" y="4" width="{inner * share:.1f}" height="{height - 8}" rx="4" '
             f'fill="{fill}"/>']
    return _svg(label, width, height, parts, css="gauge")


def _title(text: str, width: int) -> str:
    return (f'<text x="{width / 2:.0f}" y="20" text-anchor="middle" font-size="14" font-weight="600" '
            f'fill="{INK}">{escape(text)}</text>')


def _svg(label: str, width: int, height: int, parts: list[str], css: str = "chart") -> Markup:
    body = "".join(parts)
    return Markup(f'<svg class="{css}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
                  f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
                  f'<title>{escape(label)}</title>{body}</svg>')
