"""Fairness of outcomes per protected attribute (and pairs of them): the favourable-
outcome rate per group and the adverse impact ratio against the most favoured group
with a bootstrap 95 % interval, for the model's outcome, the final human outcome
and the overrides (refusals a reviewer turned favourable); the top reason per group
with a chi-square test of independence. Groups below FAIRNESS_MIN_GROUP are shown
but nothing is concluded from them; a ratio under FAIRNESS_ALERT_RATIO (0.8, the
four-fifths rule) in a conclusive group, whose 95 % interval lies wholly under 1,
raises an alert. Protected values are read
from the decisions' stored features; drills never count.

Each month is one GROUP BY per attribute, per pair of attributes and per attribute's
reasons, kept as a monthly aggregate; months add up."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import combinations
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import TruncMonth

import explain
from compliance.models import AISystem, Decision
from compliance.monitoring.groups import current_version, protected_attributes
from compliance.monitoring.months import (
    latest_reason_explanations,
    month_after,
    month_of,
    month_start,
    monthly,
    months_window,
)
from compliance.monitoring.stats import (
    ChiSquare,
    RatioEstimate,
    adverse_impact_ratio,
    chi_square_independence,
)
from compliance.policy import require
from compliance.principals import Principal

TOPIC = "fairness"
# the counts kept per group: decisions, favourable by the model, final, favourable
# finally, model refusals reviewed to a final outcome, of those turned favourable
COUNTS = ("n", "fav_model", "final", "fav_final", "adverse_final", "adverse_overturned")
MEASURES = {
    "model": ("fav_model", "n", "Favourable by the model"),
    "final": ("fav_final", "final", "Favourable after human review"),
    "override": (
        "adverse_overturned",
        "adverse_final",
        "Model refusals a reviewer turned favourable",
    ),
}
TOP_REASONS = 6


def _decisions(ai_system: AISystem, months: list[date]) -> Any:
    start, end = month_start(min(months)), month_start(month_after(max(months)))
    return Decision.objects.filter(
        ai_system=ai_system,
        is_drill=False,
        decided_at__gte=start,
        decided_at__lt=end,
    ).annotate(month=TruncMonth("decided_at"))


def _counts(favourable: str) -> dict[str, Any]:
    final = Q(status=Decision.Status.FINAL)
    adverse_final = final & ~Q(outcome=favourable)
    return {
        "n": Count("id"),
        "fav_model": Count("id", filter=Q(outcome=favourable)),
        "final": Count("id", filter=final),
        "fav_final": Count("id", filter=final & Q(final_outcome=favourable)),
        "adverse_final": Count("id", filter=adverse_final),
        "adverse_overturned": Count(
            "id", filter=adverse_final & Q(final_outcome=favourable)
        ),
    }


def fairness_months_compute(
    ai_system: AISystem, months: list[date]
) -> dict[date, dict[str, Any]]:
    out: dict[date, dict[str, Any]] = {
        m: {"attributes": {}, "pairs": {}, "reasons": {}} for m in months
    }
    mv = current_version(ai_system)
    if mv is None:
        return out
    attributes = protected_attributes(mv)
    favourable = mv.favourable_class
    decisions = _decisions(ai_system, months)
    counts = _counts(favourable)
    for attribute in attributes:
        for row in (
            decisions.annotate(g=attribute.expression())
            .values("month", "g")
            .annotate(**counts)
            .order_by()
        ):
            month = month_of(row["month"])
            if month in out:
                groups = out[month]["attributes"].setdefault(attribute.name, {})
                groups[str(row["g"])] = [row[k] for k in COUNTS]
    for a, b in combinations(attributes, 2):
        key = f"{a.name}|{b.name}"
        for row in (
            decisions.annotate(ga=a.expression(), gb=b.expression())
            .values("month", "ga", "gb")
            .annotate(**counts)
            .order_by()
        ):
            month = month_of(row["month"])
            if month in out:
                groups = out[month]["pairs"].setdefault(key, {})
                groups[f"{row['ga']}|{row['gb']}"] = [row[k] for k in COUNTS]
    # the top reason of each refusal's latest explanation (its reasons method)
    start, end = month_start(min(months)), month_start(month_after(max(months)))
    explanations = (
        latest_reason_explanations(
            ai_system=ai_system, decided_at__gte=start, decided_at__lt=end
        )
        .exclude(decision__outcome=favourable)
        .annotate(
            top=KeyTextTransform("feature", KeyTransform(0, "reasons")),
        )
    )
    for attribute in attributes:
        expression = attribute.expression("decision__")
        for row in (
            explanations.annotate(g=expression)
            .values("month", "g", "top")
            .annotate(n=Count("id"))
            .order_by()
        ):
            month = month_of(row["month"])
            if month in out and row["top"]:
                table = out[month]["reasons"].setdefault(attribute.name, {})
                table.setdefault(str(row["g"]), {})[row["top"]] = row["n"]
    return out


@dataclass(frozen=True)
class GroupFigures:
    group: str
    counts: dict[str, int]
    conclusive: bool
    rates: dict[str, float | None]
    ratios: dict[str, RatioEstimate]  # against the most favoured conclusive group
    alerts: list[str]  # measures whose ratio is under the alert level


@dataclass(frozen=True)
class AttributeFairness:
    name: str
    label: str
    groups: list[GroupFigures]
    reference: dict[str, str | None]  # measure -> most favoured conclusive group


@dataclass(frozen=True)
class ReasonTable:
    attribute: str
    label: str
    reasons: list[str]  # top reason features, most frequent first ("other" last)
    rows: list[tuple[str, list[int]]]
    test: ChiSquare | None


@dataclass
class FairnessReport:
    ai_system: int
    months: list[date]
    favourable: str
    min_group: int
    alert_ratio: float
    attributes: list[AttributeFairness] = field(default_factory=list)
    intersections: list[AttributeFairness] = field(default_factory=list)
    reasons: list[ReasonTable] = field(default_factory=list)
    note: str = ""

    @property
    def alerts(self) -> list[tuple[str, str, str, RatioEstimate]]:
        """(attribute, group, measure, ratio) for every ratio under the level."""
        return [
            (a.label, g.group, measure, g.ratios[measure])
            for a in self.attributes + self.intersections
            for g in a.groups
            for measure in g.alerts
        ]


def _sum(groups_by_month: list[dict[str, list[int]]]) -> dict[str, dict[str, int]]:
    total: dict[str, dict[str, int]] = {}
    for groups in groups_by_month:
        for group, values in groups.items():
            into = total.setdefault(group, dict.fromkeys(COUNTS, 0))
            for k, v in zip(COUNTS, values, strict=True):
                into[k] += v
    return total


def _figures(
    name: str, label: str, groups: dict[str, dict[str, int]], *, min_group: int
) -> AttributeFairness:
    alert_ratio = settings.FAIRNESS_ALERT_RATIO
    resamples = settings.FAIRNESS_BOOTSTRAP_RESAMPLES
    reference: dict[str, str | None] = {}
    for measure, (num, den, _) in MEASURES.items():
        eligible = {
            g: c[num] / c[den]
            for g, c in groups.items()
            if c[den] >= min_group and c["n"] >= min_group
        }
        reference[measure] = (
            max(eligible, key=eligible.__getitem__) if eligible else None
        )
    out: list[GroupFigures] = []
    for group, c in sorted(groups.items(), key=lambda kv: -kv[1]["n"]):
        conclusive = c["n"] >= min_group
        rates: dict[str, float | None] = {}
        ratios: dict[str, RatioEstimate] = {}
        alerts: list[str] = []
        for measure, (num, den, _) in MEASURES.items():
            rates[measure] = c[num] / c[den] if c[den] else None
            ref = reference[measure]
            if ref is None or c[den] == 0:
                ratios[measure] = RatioEstimate(None, None, None, 0)
                continue
            r = groups[ref]
            ratios[measure] = adverse_impact_ratio(
                c[num], c[den], r[num], r[den], resamples=resamples
            )
            estimate = ratios[measure]
            # an alert needs the ratio under the level and its whole interval under
            # parity: a gap the sample could show by chance raises nothing
            if (
                conclusive
                and c[den] >= min_group
                and estimate.ratio is not None
                and estimate.ratio < alert_ratio
                and estimate.high is not None
                and estimate.high < 1.0
            ):
                alerts.append(measure)
        out.append(GroupFigures(group, c, conclusive, rates, ratios, alerts))
    return AttributeFairness(name, label, out, reference)


def fairness_report(
    *,
    principal: Principal,
    ai_system: AISystem,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> FairnessReport:
    require(principal, "monitoring.read")
    months = months_window(since, until)
    mv = current_version(ai_system)
    report = FairnessReport(
        ai_system=ai_system.pk,
        months=months,
        favourable=mv.favourable_class if mv else "",
        min_group=settings.FAIRNESS_MIN_GROUP,
        alert_ratio=settings.FAIRNESS_ALERT_RATIO,
    )
    if ai_system.organization_id != principal.organization.pk:
        report.note = "Unknown AI system."
        return report
    if mv is None:
        report.note = "This AI system has no model version yet."
        return report
    attributes = protected_attributes(mv)
    if not attributes:
        report.note = (
            "The feature schema marks no protected attribute, so outcomes cannot be "
            "compared between protected groups. Mark the protected features "
            '("protected": true) in the next model version\'s schema.'
        )
        return report
    data = monthly(ai_system, TOPIC, months, fairness_months_compute)
    per_month = [data[m] for m in months if m in data]
    labels = {a.name: a.label for a in attributes}
    min_group = report.min_group
    for attribute in attributes:
        groups = _sum([m["attributes"].get(attribute.name, {}) for m in per_month])
        report.attributes.append(
            _figures(attribute.name, attribute.label, groups, min_group=min_group)
        )
    for a, b in combinations(attributes, 2):
        key = f"{a.name}|{b.name}"
        groups = _sum([m["pairs"].get(key, {}) for m in per_month])
        # intersections: only the groups with enough members
        enough = {
            g.replace("|", " & "): c for g, c in groups.items() if c["n"] >= min_group
        }
        if len(enough) >= 2:
            report.intersections.append(
                _figures(
                    key,
                    f"{labels[a.name]} × {labels[b.name]}",
                    enough,
                    min_group=min_group,
                )
            )
    feature_labels = {
        spec.name: spec.label
        for spec in explain.parse_feature_schema(mv.feature_schema).features
    }
    for attribute in attributes:
        table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for m in per_month:
            for group, codes in m["reasons"].get(attribute.name, {}).items():
                for code, n in codes.items():
                    table[group][code] += n
        if not table:
            continue
        totals: dict[str, int] = defaultdict(int)
        for codes in table.values():
            for code, n in codes.items():
                totals[code] += n
        top = sorted(totals, key=lambda c: (-totals[c], c))[:TOP_REASONS]
        has_other = len(totals) > len(top)
        rows = []
        for group in sorted(table, key=lambda g: -sum(table[g].values())):
            codes = table[group]
            row = [codes.get(c, 0) for c in top]
            if has_other:
                row.append(sum(n for c, n in codes.items() if c not in top))
            rows.append((group, row))
        big = [r for r in rows if sum(r[1]) >= min_group]
        report.reasons.append(
            ReasonTable(
                attribute=attribute.name,
                label=attribute.label,
                reasons=[feature_labels.get(c, c) for c in top]
                + (["other"] if has_other else []),
                rows=rows,
                test=chi_square_independence([r[1] for r in big]),
            )
        )
    return report
