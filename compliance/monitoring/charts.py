"""Server-side SVG charts of the monitoring pages and the oversight report (no
scripts, no external references, every text escaped; the page's CSP stays without
'unsafe-inline'). Each chart comes with a data table beside it for screen readers."""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

PALETTE = ["#1f5fa8", "#b3261e", "#1f6f43", "#8a5a00", "#6b3fa0", "#00707a", "#555"]
WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 60, 200, 16, 40
SECONDS_TICKS = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200]


def _nice_step(raw: float) -> float:
    """The round step (1, 2, 2.5 or 5 times a power of ten) at or above ``raw``."""
    if raw <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def duration_label(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def _svg_open(title: str, width: int = WIDTH, height: int = HEIGHT) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        'class="chart">',
        f"<title>{escape(title)}</title>",
    ]


def _legend_entry(index: int, name: str, colour: str) -> list[str]:
    """A swatch and its name in the legend column, one row per series."""
    ly = TOP + 14 * index + 8
    return [
        f'<rect x="{WIDTH - RIGHT + 10}" y="{ly - 8}" width="10" height="10" '
        f'fill="{colour}"/>',
        f'<text x="{WIDTH - RIGHT + 24}" y="{ly + 1}" font-size="11">'
        f"{_label(name)}</text>",
    ]


def _label(text: str, limit: int = 30) -> str:
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def line_chart_svg(
    x_labels: list[str],
    series: list[tuple[str, list[float | None]]],
    *,
    title: str,
    y_max: float | None = None,
    percent: bool = True,
    guides: list[tuple[float, str]] | None = None,
    seconds: bool = False,
) -> str:
    """One line per series over the months; gaps where a value is None; dashed
    guide lines (a threshold) with their label. ``seconds``: durations on a
    logarithmic axis (a collapse from a minute to seconds stays visible beside
    half-hour reviews)."""
    values = [v for _, vs in series for v in vs if v is not None]
    marks = [*values, *(g for g, _ in guides or [])]
    top = y_max if y_max is not None else max(marks, default=1.0)
    top = top or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(x_labels), 1)
    positive = [v for v in marks if v > 0]
    low_s = min(positive, default=1.0) / 1.5
    high_s = max(positive, default=60.0) * 1.5
    span = (math.log10(high_s) - math.log10(low_s)) or 1.0

    def x(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / n)

    def y(v: float) -> float:
        if seconds:
            v = min(max(v, low_s), high_s)
            return TOP + plot_h * (1 - (math.log10(v) - math.log10(low_s)) / span)
        return TOP + plot_h * (1 - min(v, top) / top)

    parts = _svg_open(title)
    if seconds:
        ticks = [float(t) for t in SECONDS_TICKS if low_s <= t <= high_s]
    elif percent:
        ticks = [top * k / 4 for k in range(5)]
    else:
        step = _nice_step(top / 4)
        top = step * math.ceil(top / step - 1e-9)
        ticks = [step * k for k in range(round(top / step) + 1)]
    for v in ticks:
        yy = y(v)
        if seconds:
            text = duration_label(v)
        elif percent:
            text = f"{100 * v:.0f}%"
        else:
            text = f"{v:g}"
        parts.append(
            f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{LEFT + plot_w}" y2="{yy:.1f}" '
            'stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" font-size="10" '
            f'text-anchor="end">{text}</text>'
        )
    for i, label in enumerate(x_labels):
        parts.append(
            f'<text x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="10" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    ordered = sorted(guides or [], key=lambda g: -g[0])  # the higher line's label first
    for g, (value, label) in enumerate(ordered):
        yy = y(value)
        parts.append(
            f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{LEFT + plot_w}" y2="{yy:.1f}" '
            'stroke="#b3261e" stroke-dasharray="5 4"/>'
        )
        # guide labels sit in the legend column, clear of each other and the lines
        gy = HEIGHT - BOTTOM - 14 * (len(ordered) - 1 - g)
        parts.append(
            f'<text x="{WIDTH - RIGHT + 10}" y="{gy:.1f}" font-size="10" '
            f'fill="#b3261e">- - {escape(label)}</text>'
        )
    for s, (name, vs) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        segment: list[str] = []
        for i, point in enumerate(vs):
            if point is None:
                if len(segment) > 1:
                    parts.append(
                        f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                        f'points="{" ".join(segment)}"/>'
                    )
                segment = []
                continue
            segment.append(f"{x(i):.1f},{y(point):.1f}")
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(point):.1f}" r="3" fill="{colour}"/>'
            )
        if len(segment) > 1:
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                f'points="{" ".join(segment)}"/>'
            )
        parts += _legend_entry(s, name, colour)
    parts.append("</svg>")
    return "".join(parts)


def ratio_bars_svg(
    groups: list[
        tuple[str, list[tuple[float | None, float | None, float | None, bool]]]
    ],
    *,
    measures: list[str],
    title: str,
    alert_level: float = 0.8,
) -> str:
    """Per group, one horizontal bar per measure: the ratio (0 to 1.2+) with its 95 %
    interval as a whisker; a dashed line at the alert level and a solid one at 1;
    a bar under the level in a conclusive group is red, groups too small to conclude
    from are pale. ``groups``: (label, [(ratio, low, high, conclusive) per measure])."""
    bar = 11
    gap = 8
    label_w = 230
    legend_h = 18
    per_group = bar * len(measures) + gap
    height = TOP + legend_h + per_group * len(groups) + 30
    plot_w = WIDTH - label_w - 70
    top = 1.25

    def x(v: float) -> float:
        return label_w + plot_w * min(max(v, 0.0), top) / top

    parts = _svg_open(title, height=height)
    shades = ["#1f5fa8", "#6b3fa0", "#00707a"]
    for m, name in enumerate(measures):
        lx = label_w + m * 150
        parts.append(
            f'<rect x="{lx}" y="{TOP - 8}" width="10" height="10" fill="{shades[m % 3]}"/>'
        )
        parts.append(
            f'<text x="{lx + 14}" y="{TOP + 1}" font-size="10">{escape(name)}</text>'
        )
    base = TOP + legend_h
    bottom = height - 24
    for value, dash in ((alert_level, ' stroke-dasharray="5 4"'), (1.0, "")):
        parts.append(
            f'<line x1="{x(value):.1f}" y1="{base - 4}" x2="{x(value):.1f}" '
            f'y2="{bottom}" stroke="#555"{dash}/>'
        )
        parts.append(
            f'<text x="{x(value):.1f}" y="{height - 10}" font-size="10" '
            f'text-anchor="middle">{value:g}</text>'
        )
    for i, (label, values) in enumerate(groups):
        y0 = base + i * per_group
        parts.append(
            f'<text x="{label_w - 6}" y="{y0 + per_group / 2:.1f}" font-size="11" '
            f'text-anchor="end">{_label(label, 36)}</text>'
        )
        for m, (ratio, low, high, conclusive) in enumerate(values):
            yy = y0 + m * bar
            if ratio is None:
                parts.append(
                    f'<text x="{label_w + 4}" y="{yy + bar - 2}" font-size="9" '
                    'fill="#555">no ratio</text>'
                )
                continue
            under = ratio < alert_level and conclusive
            colour = "#b3261e" if under else shades[m % 3]
            opacity = "1" if conclusive else "0.3"
            parts.append(
                f'<rect x="{label_w}" y="{yy + 1}" width="{max(x(ratio) - label_w, 1):.1f}" '
                f'height="{bar - 2}" fill="{colour}" fill-opacity="{opacity}"/>'
            )
            if low is not None and high is not None:
                parts.append(
                    f'<line x1="{x(low):.1f}" y1="{yy + bar / 2:.1f}" '
                    f'x2="{x(high):.1f}" y2="{yy + bar / 2:.1f}" stroke="#111"/>'
                )
            note = "" if conclusive else " too few"
            end = max(ratio, min(high or ratio, top))
            parts.append(
                f'<text x="{x(end) + 5:.1f}" y="{yy + bar - 2}" font-size="9">'
                f"{ratio:.2f}{note}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def histogram_svg(
    bins: list[str],
    series: list[tuple[str, list[float]]],
    *,
    title: str,
) -> str:
    """Grouped vertical bars of shares per bin (e.g. the score distribution of the
    first and the last month)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = max([v for _, vs in series for v in vs] + [0.01])
    n = max(len(bins), 1)
    group_w = plot_w / n
    bar_w = group_w * 0.8 / max(len(series), 1)
    parts = _svg_open(title)
    for k in range(5):
        v = top * k / 4
        yy = TOP + plot_h - plot_h * k / 4
        parts.append(
            f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{LEFT + plot_w}" y2="{yy:.1f}" '
            'stroke="#eee"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" font-size="10" '
            f'text-anchor="end">{100 * v:.0f}%</text>'
        )
    for i, label in enumerate(bins):
        parts.append(
            f'<text x="{LEFT + group_w * (i + 0.5):.1f}" y="{HEIGHT - BOTTOM + 16}" '
            f'font-size="9" text-anchor="middle">{escape(label)}</text>'
        )
    for s, (name, vs) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        for i, v in enumerate(vs):
            h = plot_h * v / top
            parts.append(
                f'<rect x="{LEFT + group_w * i + group_w * 0.1 + s * bar_w:.1f}" '
                f'y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{colour}"/>'
            )
        parts += _legend_entry(s, name, colour)
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" '
        f'y2="{TOP + plot_h}" stroke="#555"/>'
    )
    parts.append("</svg>")
    return "".join(parts)
