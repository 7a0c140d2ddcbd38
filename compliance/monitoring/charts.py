"""Server-side SVG charts of the monitoring pages and the oversight report (no
scripts, no external references, every text escaped; the page's CSP stays without
'unsafe-inline'). Each chart comes with a data table beside it for screen readers."""

from __future__ import annotations

from xml.sax.saxutils import escape

PALETTE = ["#1f5fa8", "#b3261e", "#1f6f43", "#8a5a00", "#6b3fa0", "#00707a", "#555"]
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 150, 16, 40


def _svg_open(title: str, width: int = WIDTH, height: int = HEIGHT) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        'class="chart">',
        f"<title>{escape(title)}</title>",
    ]


def _label(text: str, limit: int = 24) -> str:
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def line_chart_svg(
    x_labels: list[str],
    series: list[tuple[str, list[float | None]]],
    *,
    title: str,
    y_max: float | None = None,
    percent: bool = True,
    guides: list[tuple[float, str]] | None = None,
) -> str:
    """One line per series over the months; gaps where a value is None; dashed
    guide lines (a threshold) with their label."""
    values = [v for _, vs in series for v in vs if v is not None]
    top = (
        y_max
        if y_max is not None
        else max([*values, *(g for g, _ in guides or [])], default=1.0)
    )
    top = top or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(x_labels), 1)

    def x(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / n)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - min(v, top) / top)

    parts = _svg_open(title)
    for k in range(5):
        v = top * k / 4
        yy = y(v)
        text = f"{100 * v:.0f}%" if percent else f"{v:.2g}"
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
    for value, label in guides or []:
        yy = y(value)
        parts.append(
            f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{LEFT + plot_w}" y2="{yy:.1f}" '
            'stroke="#b3261e" stroke-dasharray="5 4"/>'
        )
        parts.append(
            f'<text x="{LEFT + plot_w - 4}" y="{yy - 4:.1f}" font-size="10" '
            f'text-anchor="end" fill="#b3261e">{escape(label)}</text>'
        )
    for s, (name, vs) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        segment: list[str] = []
        for i, v in enumerate(vs):
            if v is None:
                if len(segment) > 1:
                    parts.append(
                        f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                        f'points="{" ".join(segment)}"/>'
                    )
                segment = []
                continue
            segment.append(f"{x(i):.1f},{y(v):.1f}")
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>'
            )
        if len(segment) > 1:
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                f'points="{" ".join(segment)}"/>'
            )
        ly = TOP + 14 * s + 8
        parts.append(
            f'<rect x="{WIDTH - RIGHT + 10}" y="{ly - 8}" width="10" height="10" '
            f'fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{WIDTH - RIGHT + 24}" y="{ly + 1}" font-size="11">'
            f"{_label(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def ratio_bars_svg(
    items: list[tuple[str, float | None, float | None, float | None, bool]],
    *,
    title: str,
    alert_level: float = 0.8,
) -> str:
    """Horizontal bars of ratios (0 to 1.2+) with their 95 % interval as a whisker,
    a dashed line at the alert level and a solid one at 1; bars under the level in
    red. Items: (label, ratio, low, high, conclusive)."""
    row = 22
    label_w = 210
    height = TOP + row * len(items) + 30
    plot_w = WIDTH - label_w - 60
    top = max([1.2, *(h for *_, h, _ in items if h is not None)])

    def x(v: float) -> float:
        return label_w + plot_w * min(v, top) / top

    parts = _svg_open(title, height=height)
    for value, dash in ((alert_level, ' stroke-dasharray="5 4"'), (1.0, "")):
        parts.append(
            f'<line x1="{x(value):.1f}" y1="{TOP - 6}" x2="{x(value):.1f}" '
            f'y2="{height - 24}" stroke="#555"{dash}/>'
        )
        parts.append(
            f'<text x="{x(value):.1f}" y="{height - 10}" font-size="10" '
            f'text-anchor="middle">{value:g}</text>'
        )
    for i, (label, ratio, low, high, conclusive) in enumerate(items):
        yy = TOP + i * row
        parts.append(
            f'<text x="{label_w - 6}" y="{yy + 14}" font-size="11" '
            f'text-anchor="end">{_label(label, 34)}</text>'
        )
        if ratio is None:
            parts.append(
                f'<text x="{label_w + 4}" y="{yy + 14}" font-size="10" fill="#555">'
                "no ratio</text>"
            )
            continue
        colour = "#b3261e" if ratio < alert_level and conclusive else "#1f5fa8"
        opacity = "1" if conclusive else "0.35"
        parts.append(
            f'<rect x="{label_w}" y="{yy + 4}" width="{max(x(ratio) - label_w, 1):.1f}" '
            f'height="{row - 10}" fill="{colour}" fill-opacity="{opacity}"/>'
        )
        if low is not None and high is not None:
            parts.append(
                f'<line x1="{x(low):.1f}" y1="{yy + row / 2:.1f}" x2="{x(high):.1f}" '
                f'y2="{yy + row / 2:.1f}" stroke="#111" stroke-width="1.5"/>'
            )
        note = "" if conclusive else " (too few)"
        parts.append(
            f'<text x="{x(max(ratio, high or ratio)) + 6:.1f}" y="{yy + 14}" '
            f'font-size="10">{ratio:.2f}{note}</text>'
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
        ly = TOP + 14 * s + 8
        parts.append(
            f'<rect x="{WIDTH - RIGHT + 10}" y="{ly - 8}" width="10" height="10" '
            f'fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{WIDTH - RIGHT + 24}" y="{ly + 1}" font-size="11">'
            f"{_label(name)}</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" '
        f'y2="{TOP + plot_h}" stroke="#555"/>'
    )
    parts.append("</svg>")
    return "".join(parts)
