"""SVG charts drawn by our own code (identical in the UI and the PDF): no scripts,
no external references, every text escaped."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

WIDTH = 640
ROW = 18
LABEL_W = 260
# room on each side of the plot for a bar's value ("-0.123" at 10 px): the value of
# the longest negative bar stays clear of the feature labels
VALUE_W = 50
POSITIVE = "#b3261e"  # toward the adverse outcome
NEGATIVE = "#1f6f43"  # toward the favourable outcome


def _fmt(value: float) -> str:
    return f"{value:+.3f}"


def attribution_bars_svg(
    items: list[tuple[str, float]], *, adverse_sign: float, title: str
) -> str:
    """Signed horizontal bars, largest |attribution| first.

    Args:
        items: (feature label, attribution) pairs.
        adverse_sign: +1 when positive attributions push toward the adverse outcome.
    """
    items = sorted(items, key=lambda kv: -abs(kv[1]))
    scale = max((abs(v) for _, v in items), default=1.0) or 1.0
    plot_w = WIDTH - LABEL_W - 2 * VALUE_W
    zero_x = LABEL_W + VALUE_W + plot_w / 2
    height = ROW * len(items) + 34
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{zero_x}" y1="4" x2="{zero_x}" y2="{height - 24}" stroke="#555"/>',
    ]
    for i, (label, value) in enumerate(items):
        y = 6 + i * ROW
        w = abs(value) / scale * (plot_w / 2)
        x = zero_x if value >= 0 else zero_x - w
        colour = POSITIVE if value * adverse_sign > 0 else NEGATIVE
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y + 14}" font-size="11" text-anchor="end">'
            f"{escape(label if len(label) <= 46 else label[:45] + '…')}</text>"
        )
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 3}" width="{max(w, 0.5):.1f}" height="{ROW - 8}" '
            f'fill="{colour}"/>'
        )
        tx = zero_x + w + 4 if value >= 0 else zero_x - w - 4
        anchor = "start" if value >= 0 else "end"
        parts.append(
            f'<text x="{tx:.1f}" y="{y + 14}" font-size="10" text-anchor="{anchor}">'
            f"{_fmt(value)}</text>"
        )
    parts.append(
        f'<text x="{LABEL_W}" y="{height - 6}" font-size="10" fill="{NEGATIVE}">'
        "toward the favourable outcome</text>"
    )
    parts.append(
        f'<text x="{WIDTH - 10}" y="{height - 6}" font-size="10" text-anchor="end" '
        f'fill="{POSITIVE}">toward the adverse outcome</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def counterfactual_svg(
    *, score_before: float, score_after: float, threshold: float, labels: list[str]
) -> str:
    """Before/after probability of the scored class against the decision threshold."""
    w, h, left, right = WIDTH, 96, 130, 40
    span = w - left - right

    def x(p: float) -> float:
        return left + max(0.0, min(1.0, p)) * span

    rows: list[tuple[str, float, Any]] = [
        ("As decided", score_before, POSITIVE),
        ("With the change", score_after, NEGATIVE),
    ]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="Score before and after the change">',
        "<title>Score before and after the change</title>",
        f'<line x1="{x(threshold):.1f}" y1="4" x2="{x(threshold):.1f}" y2="{h - 18}" '
        'stroke="#333" stroke-dasharray="4 3"/>',
        f'<text x="{x(threshold):.1f}" y="{h - 4}" font-size="10" text-anchor="middle">'
        f"threshold {threshold:.2f}</text>",
    ]
    for i, (name, p, colour) in enumerate(rows):
        y = 8 + i * 30
        parts.append(
            f'<text x="{left - 8}" y="{y + 14}" font-size="11" text-anchor="end">'
            f"{escape(name)}</text>"
        )
        parts.append(
            f'<rect x="{left}" y="{y + 4}" width="{x(p) - left:.1f}" height="14" '
            f'fill="{colour}"/>'
        )
        parts.append(
            f'<text x="{x(p) + 4:.1f}" y="{y + 15}" font-size="10">'
            f"P({escape(labels[-1])}) = {p:.4f}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
