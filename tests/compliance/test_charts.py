"""The dossier's attribution chart: values never overlap the feature labels."""

from __future__ import annotations

import re

from compliance.dossiers.charts import LABEL_W, WIDTH, attribution_bars_svg

# a generous width per character of a 10 px value label ("-0.123")
CHAR_W = 6.5


def _value_boxes(svg: str) -> list[tuple[float, float]]:
    """The horizontal extent of every value label (the font-size 10 texts with a sign)."""
    boxes = []
    for x, anchor, text in re.findall(
        r'<text x="([\d.]+)" y="[\d.]+" font-size="10" text-anchor="(start|end)">'
        r"([+-][\d.]+)</text>",
        svg,
    ):
        width = len(text) * CHAR_W
        left = float(x) - width if anchor == "end" else float(x)
        boxes.append((left, left + width))
    return boxes


def test_value_labels_stay_clear_of_feature_labels_and_inside_the_chart():
    svg = attribution_bars_svg(
        [("Duration in months", -1.234), ("Credit amount", 0.9), ("Age", -0.2)],
        adverse_sign=1.0,
        title="t",
    )
    boxes = _value_boxes(svg)
    assert len(boxes) == 3
    for left, right in boxes:
        assert left >= LABEL_W, (left, right)
        assert right <= WIDTH, (left, right)
