"""What each monitoring page shows (web, CSV and the oversight report read the same):
the figures, their charts and one table per page for CSV and screen readers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings

from compliance.models import AISystem, MonitoringAlert
from compliance.monitoring import charts
from compliance.monitoring.alerts import Finding, alerts_find
from compliance.monitoring.drift import (
    DRIFT_MIN_DECISIONS,
    PSI_MAJOR,
    PSI_MODERATE,
    drift_report,
)
from compliance.monitoring.drills import drill_accuracy, drill_pool
from compliance.monitoring.fairness import MEASURES, fairness_report
from compliance.monitoring.months import months_window
from compliance.monitoring.oversight import (
    OversightRow,
    oversight_by_reviewer_month,
    review_queue,
)
from compliance.principals import Principal


def _m(month: date) -> str:
    return month.strftime("%Y-%m")


def _short(months: list[date]) -> list[str]:
    """Chart labels: "Jun", with the year on the first and on each January."""
    return [
        m.strftime("%b %Y") if i == 0 or m.month == 1 else m.strftime("%b")
        for i, m in enumerate(months)
    ]


def _f(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


@dataclass
class Chart:
    title: str
    svg: str
    # the same figures as a table (screen readers; the CSV holds everything)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Page:
    topic: str
    ai_system: AISystem
    months: list[date]
    charts: list[Chart] = field(default_factory=list)
    header: list[str] = field(default_factory=list)  # the CSV
    rows: list[list[Any]] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)


def _by_reviewer(rows: list[OversightRow]) -> dict[str, dict[date, OversightRow]]:
    out: dict[str, dict[date, OversightRow]] = {}
    for row in rows:
        out.setdefault(row.reviewer, {})[row.month] = row
    return out


def _series_chart(
    title: str,
    months: list[date],
    per: dict[str, dict[date, OversightRow]],
    value: Any,
    *,
    percent: bool = True,
    guides: list[tuple[float, str]] | None = None,
    y_max: float | None = None,
    seconds: bool = False,
) -> Chart:
    series = [
        (name, [value(rows[m]) if m in rows else None for m in months])
        for name, rows in sorted(per.items())
    ]
    fmt = (
        charts.duration_label
        if seconds
        else (lambda v: f"{100 * v:.0f} %")
        if percent
        else (lambda v: f"{v:.0f}")
    )
    return Chart(
        title,
        charts.line_chart_svg(
            _short(months),
            series,
            title=title,
            percent=percent,
            guides=guides,
            y_max=y_max,
            seconds=seconds,
        ),
        ["Reviewer", *[_m(m) for m in months]],
        [[n, *["–" if v is None else fmt(v) for v in vs]] for n, vs in series],
    )


def oversight_page(
    *, principal: Principal, ai_system: AISystem, since: Any = None, until: Any = None
) -> Page:
    months = months_window(since, until)
    rows = oversight_by_reviewer_month(
        principal=principal, ai_system=ai_system, since=months[0], until=months[-1]
    )
    per = _by_reviewer(rows)
    page = Page("oversight", ai_system, months)
    page.charts = [
        _series_chart(
            "Override rate per reviewer and month",
            months,
            per,
            lambda r: r.override_rate,
            y_max=1.0,
        ),
        _series_chart(
            "Blind-first views that agreed with the model",
            months,
            per,
            lambda r: r.blind_agreement_rate,
            y_max=1.0,
            guides=[(settings.MONITORING_RUBBER_STAMP_AGREEMENT, "rubber-stamp level")],
        ),
        _series_chart(
            "Median time on a case per reviewer and month (logarithmic scale)",
            months,
            per,
            lambda r: r.median_seconds,
            percent=False,
            seconds=True,
            guides=[
                (
                    float(settings.MONITORING_MIN_REVIEW_SECONDS),
                    f"floor {settings.MONITORING_MIN_REVIEW_SECONDS} s",
                )
            ],
        ),
    ]
    page.header = [
        "month",
        "reviewer",
        "reviews",
        "overrides",
        "override_rate",
        "override_ci_low",
        "override_ci_high",
        "preliminary_views",
        "agreed_with_model",
        "blind_agreement_rate",
        "switched_to_model",
        "switch_rate",
        "timed_reviews",
        "median_seconds",
        "p90_seconds",
        "late_reviews",
    ]
    for r in rows:
        ci = r.override_interval or (None, None)
        page.rows.append(
            [
                _m(r.month),
                r.reviewer,
                r.reviews,
                r.overrides,
                _f(r.override_rate),
                _f(ci[0]),
                _f(ci[1]),
                r.preliminary_views,
                r.agreed_with_model,
                _f(r.blind_agreement_rate),
                r.switched_to_model,
                _f(r.switch_rate),
                r.timed_reviews,
                _f(r.median_seconds, 1),
                _f(r.p90_seconds, 1),
                r.late_reviews,
            ]
        )
    totals: dict[str, dict[str, float]] = {}
    for r in rows:
        t = totals.setdefault(
            r.reviewer,
            dict.fromkeys(
                ("reviews", "overrides", "views", "agreed", "switched", "late"), 0
            ),
        )
        t["reviews"] += r.reviews
        t["overrides"] += r.overrides
        t["views"] += r.preliminary_views
        t["agreed"] += r.agreed_with_model
        t["switched"] += r.switched_to_model
        t["late"] += r.late_reviews
    page.context = {
        "rows": rows,
        "totals": totals,
        "queue": review_queue(principal=principal, ai_system=ai_system),
        "drills": drill_accuracy(principal=principal, ai_system=ai_system),
        "drill_pool": drill_pool(principal=principal, ai_system=ai_system),
    }
    return page


def fairness_page(
    *, principal: Principal, ai_system: AISystem, since: Any = None, until: Any = None
) -> Page:
    report = fairness_report(
        principal=principal, ai_system=ai_system, since=since, until=until
    )
    page = Page("fairness", ai_system, report.months, context={"report": report})
    page.header = [
        "attribute",
        "group",
        "measure",
        "favourable",
        "of",
        "rate",
        "adverse_impact_ratio",
        "ci_low",
        "ci_high",
        "conclusive",
        "alert",
    ]
    measures = list(MEASURES)
    names = [MEASURES[m][2] for m in measures]
    for attribute in report.attributes + report.intersections:
        groups = [
            (
                g.group,
                [
                    (
                        g.ratios[m].ratio,
                        g.ratios[m].low,
                        g.ratios[m].high,
                        g.conclusive and g.counts[MEASURES[m][1]] >= report.min_group,
                    )
                    for m in measures
                ],
            )
            for g in attribute.groups
        ]
        title = f"{attribute.label}: favourable outcomes as a ratio to the most favoured group"
        page.charts.append(
            Chart(
                title,
                charts.ratio_bars_svg(
                    groups,
                    measures=["by the model", "after human review", "refusals turned"],
                    title=title,
                    alert_level=report.alert_ratio,
                ),
                [
                    "Group",
                    "Members",
                    *[f"{n}: rate, ratio (95 % interval)" for n in names],
                ],
                [
                    [
                        g.group,
                        str(g.counts["n"]),
                        *[
                            f"{_pct(g.rates[m])}, "
                            f"{_f(g.ratios[m].ratio, 2) or '–'} "
                            f"({_interval(g.ratios[m].low, g.ratios[m].high)})"
                            for m in measures
                        ],
                    ]
                    for g in attribute.groups
                ],
            )
        )
        for g in attribute.groups:
            for measure, (num, den, _) in MEASURES.items():
                ratio = g.ratios[measure]
                page.rows.append(
                    [
                        attribute.label,
                        g.group,
                        measure,
                        g.counts[num],
                        g.counts[den],
                        _f(g.rates[measure]),
                        _f(ratio.ratio),
                        _f(ratio.low),
                        _f(ratio.high),
                        g.conclusive,
                        measure in g.alerts,
                    ]
                )
    return page


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _interval(low: float | None, high: float | None) -> str:
    return "–" if low is None or high is None else f"{low:.2f}–{high:.2f}"


def drift_page(
    *, principal: Principal, ai_system: AISystem, since: Any = None, until: Any = None
) -> Page:
    months = months_window(since, until)
    versions = drift_report(
        principal=principal, ai_system=ai_system, since=months[0], until=months[-1]
    )
    page = Page("drift", ai_system, months, context={"versions": versions})
    page.header = ["model_version", "month", "decisions", "measure", "feature", "value"]
    for v in versions:
        labels = _short(v.months)
        top = v.features[:6]
        title = f"Model {v.version}: population stability index, most shifted features"
        if not top:
            page.context.setdefault("notes", []).append(
                f"Model {v.version} was registered without a training distribution "
                "and its schema has no background rows: there is nothing to compare "
                "its inputs with. Send training_distribution with the next version."
            )
        else:
            page.charts.append(
                Chart(
                    title,
                    charts.line_chart_svg(
                        labels,
                        [(f.label, f.psi) for f in top],
                        title=title,
                        percent=False,
                        guides=[
                            (PSI_MODERATE, "moderate 0.1"),
                            (PSI_MAJOR, "major 0.25"),
                        ],
                    ),
                    ["Feature", *labels],
                    [
                        ["(decisions in the month)", *[str(n) for n in v.decisions]],
                        *[[f.label, *[_f(p) or "–" for p in f.psi]] for f in top],
                    ],
                )
            )
        title = f"Model {v.version}: explanations and outcomes month by month"
        page.charts.append(
            Chart(
                title,
                charts.line_chart_svg(
                    labels,
                    [
                        ("favourable rate", v.favourable_rate),
                        ("attribution rank corr.", v.attribution_rank_correlation),
                        ("top-reason shift", v.top_reason_shift),
                    ],
                    title=title,
                    y_max=1.0,
                ),
                ["Measure", *labels],
                [
                    ["favourable rate", *[_pct(x) for x in v.favourable_rate]],
                    [
                        "attribution rank correlation with the month before",
                        *[_f(x, 2) or "–" for x in v.attribution_rank_correlation],
                    ],
                    ["top-reason shift", *[_pct(x) for x in v.top_reason_shift]],
                ],
            )
        )
        enough = [i for i, n in enumerate(v.decisions) if n >= DRIFT_MIN_DECISIONS]
        if enough:
            bins = [f"{k / 10:.1f}" for k in range(10)]
            a, z = enough[0], enough[-1]
            names = [f"{m:%b %Y}" for m in v.months]
            title = (
                f"Model {v.version}: distribution of scores, {names[a]} and {names[z]}"
            )
            first, last = v.scores[a], v.scores[z]
            page.charts.append(
                Chart(
                    title,
                    charts.histogram_svg(
                        bins,
                        [(names[a], first), (names[z], last)],
                        title=title,
                    ),
                    ["Score from", names[a], names[z]],
                    [
                        [b, _pct(a), _pct(c)]
                        for b, a, c in zip(bins, first, last, strict=True)
                    ],
                )
            )
        for i, month in enumerate(v.months):
            page.rows.append(
                [
                    v.version,
                    _m(month),
                    v.decisions[i],
                    "favourable_rate",
                    "",
                    _f(v.favourable_rate[i]),
                ]
            )
            page.rows.append(
                [
                    v.version,
                    _m(month),
                    v.decisions[i],
                    "attribution_rank_correlation",
                    "",
                    _f(v.attribution_rank_correlation[i]),
                ]
            )
            page.rows.append(
                [
                    v.version,
                    _m(month),
                    v.decisions[i],
                    "top_reason_shift",
                    "",
                    _f(v.top_reason_shift[i]),
                ]
            )
            for f in v.features:
                page.rows.append(
                    [v.version, _m(month), v.decisions[i], "psi", f.name, _f(f.psi[i])]
                )
    return page


@dataclass(frozen=True)
class AlertGroup:
    """One alert over the months it held: the latest month's message."""

    kind: str
    label: str
    subject: str
    months: list[date]
    message: str

    @property
    def when(self) -> str:
        if self.kind == MonitoringAlert.Kind.ADVERSE_IMPACT:
            return "the months shown"
        if len(self.months) == 1:
            return self.months[0].strftime("%b %Y")
        return (
            f"{self.months[0]:%b %Y} to {self.months[-1]:%b %Y} "
            f"({len(self.months)} months)"
        )


ALERT_LABELS = {k.value: k.label for k in MonitoringAlert.Kind}


def _grouped(findings: list[Finding]) -> list[AlertGroup]:
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.kind, f.subject), []).append(f)
    out = []
    for (kind, subject), found in groups.items():
        found.sort(key=lambda f: f.month)
        out.append(
            AlertGroup(
                kind,
                ALERT_LABELS.get(kind, kind),
                subject,
                [f.month for f in found],
                found[-1].message,
            )
        )
    order = list(ALERT_LABELS)
    return sorted(out, key=lambda g: (order.index(g.kind), -len(g.months), g.subject))


@dataclass
class Overview:
    ai_system: AISystem
    months: list[date]
    findings: list[Finding]
    recorded: list[MonitoringAlert]
    queue: Any
    reviews: int
    override_rate: float | None
    blind_agreement: float | None
    worst_ratio: float | None
    worst_psi: float | None

    @property
    def alerts(self) -> list[AlertGroup]:
        return _grouped(self.findings)


def overview(
    *, principal: Principal, ai_system: AISystem, since: Any = None, until: Any = None
) -> Overview:
    months = months_window(since, until)
    rows = oversight_by_reviewer_month(
        principal=principal, ai_system=ai_system, since=months[0], until=months[-1]
    )
    reviews = sum(r.reviews for r in rows)
    views = sum(r.preliminary_views for r in rows)
    fairness = fairness_report(
        principal=principal, ai_system=ai_system, since=months[0], until=months[-1]
    )
    ratios = [
        g.ratios["model"].ratio
        for a in fairness.attributes
        for g in a.groups
        if g.conclusive and g.ratios["model"].ratio is not None
    ]
    drift = drift_report(
        principal=principal, ai_system=ai_system, since=months[0], until=months[-1]
    )
    psis = [f.worst for v in drift for f in v.features if f.worst is not None]
    return Overview(
        ai_system=ai_system,
        months=months,
        findings=alerts_find(
            principal=principal, ai_system=ai_system, since=months[0], until=months[-1]
        ),
        recorded=list(
            MonitoringAlert.objects.filter(ai_system=ai_system).order_by("-raised_at")[
                :20
            ]
        ),
        queue=review_queue(principal=principal, ai_system=ai_system),
        reviews=reviews,
        override_rate=sum(r.overrides for r in rows) / reviews if reviews else None,
        blind_agreement=sum(r.agreed_with_model for r in rows) / views
        if views
        else None,
        worst_ratio=min(ratios) if ratios else None,
        worst_psi=max(psis) if psis else None,
    )
