"""The monitoring charts: every text escaped, gaps left open, bars under the level
in red only when conclusive, durations on a logarithmic axis."""

from __future__ import annotations

from compliance.monitoring.charts import (
    duration_label,
    histogram_svg,
    line_chart_svg,
    ratio_bars_svg,
)


def test_texts_are_escaped_and_gaps_stay_open() -> None:
    svg = line_chart_svg(
        ["Jan", "Feb", "Mar"],
        [("<script>alert(1)</script>", [0.1, None, 0.3])],
        title='a "title" & more',
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "&amp; more" in svg
    # a None splits the line: two points, no polyline across the gap
    assert svg.count("<circle") == 2 and "<polyline" not in svg


def test_ratio_bars_mark_only_conclusive_groups_under_the_level() -> None:
    svg = ratio_bars_svg(
        [
            ("small group", [(0.5, 0.2, 0.9, False)]),
            ("large group", [(0.5, 0.4, 0.6, True)]),
            ("parity", [(1.0, 0.9, 1.1, True)]),
        ],
        measures=["by the model"],
        title="t",
    )
    red = svg.count('fill="#b3261e"')
    assert red == 1  # the large group only; the small one is pale
    assert 'fill-opacity="0.3"' in svg and "too few" in svg


def test_review_times_on_a_logarithmic_axis() -> None:
    svg = line_chart_svg(
        ["Oct", "Nov"],
        [("quick", [65.0, 6.0]), ("slow", [1800.0, 1700.0])],
        title="t",
        percent=False,
        seconds=True,
    )
    assert ">10 s<" in svg and ">1 min<" in svg and ">30 min<" in svg
    assert duration_label(7200) == "2 h" and duration_label(5) == "5 s"
    bars = histogram_svg(["0.0", "0.1"], [("a", [0.6, 0.4])], title="t")
    assert bars.count("<rect") >= 3  # two bars and the legend swatch
