"""Drift per model version and month: the population stability index of each input
feature against the training distribution stored with the model version, the
distribution of scores and outcomes, and explanation drift (Spearman's rank
correlation of the mean |attribution| per feature with the month before, and the
top-reason shift: the share of refusals whose top reason would have to change for
the month's mix of top reasons to equal the month before's). Three GROUP BY
queries per model version, kept as monthly aggregates; drills never count."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import Avg, Count, FloatField, Q
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Abs, Cast, TruncMonth

import explain
from compliance.models import (
    AISystem,
    Decision,
    ModelVersion,
)
from compliance.monitoring.months import (
    latest_reason_explanations,
    month_after,
    month_of,
    month_start,
    monthly,
    months_window,
)
from compliance.monitoring.stats import population_stability_index, spearman
from compliance.policy import require
from compliance.principals import Principal

TOPIC = "drift"
SCORE_BINS = 10
PSI_MODERATE, PSI_MAJOR = 0.1, 0.25
# a month with fewer decisions gives no index: a handful of rows always "drift"
DRIFT_MIN_DECISIONS = 30


def _bin_filters(name: str, dist: dict[str, Any]) -> list[Q]:
    if dist.get("kind") == "categorical":
        return [Q(**{f"features__{name}": c}) for c in dist["categories"]]
    edges = dist.get("edges", [])
    bounds = [None, *edges, None]
    out = []
    for low, high in zip(bounds, bounds[1:], strict=False):
        q = Q()
        if low is not None:
            q &= Q(**{f"features__{name}__gte": low})
        if high is not None:
            q &= Q(**{f"features__{name}__lt": high})
        out.append(q)
    return out


def drift_months_compute(
    ai_system: AISystem, months: list[date]
) -> dict[date, dict[str, Any]]:
    out: dict[date, dict[str, Any]] = {m: {"versions": {}} for m in months}
    start, end = month_start(min(months)), month_start(month_after(max(months)))
    versions = ModelVersion.objects.filter(ai_system=ai_system)
    for mv in versions:
        distribution = (mv.training_distribution or {}).get("features", {})
        schema = explain.parse_feature_schema(mv.feature_schema)
        aggregates: dict[str, Any] = {"n": Count("id")}
        bins: dict[str, int] = {}
        for spec in schema.features:
            dist = distribution.get(spec.name)
            if not dist:
                continue
            filters = _bin_filters(spec.name, dist)
            bins[spec.name] = len(filters)
            for k, q in enumerate(filters):
                aggregates[f"f{len(bins) - 1}_{k}"] = Count("id", filter=q)
        for k in range(SCORE_BINS):
            q = Q(score__gte=k / SCORE_BINS)
            if k < SCORE_BINS - 1:
                q &= Q(score__lt=(k + 1) / SCORE_BINS)
            aggregates[f"s{k}"] = Count("id", filter=q)
        labels = list(mv.class_labels)
        for i, label in enumerate(labels):
            aggregates[f"o{i}"] = Count("id", filter=Q(outcome=label))
        names = list(bins)
        for row in (
            Decision.objects.filter(
                model_version=mv,
                is_drill=False,
                decided_at__gte=start,
                decided_at__lt=end,
            )
            .annotate(month=TruncMonth("decided_at"))
            .values("month")
            .annotate(**aggregates)
            .order_by()
        ):
            month = month_of(row["month"])
            if month not in out:
                continue
            out[month]["versions"][str(mv.pk)] = {
                "n": row["n"],
                "bins": {
                    name: [row[f"f{i}_{k}"] for k in range(bins[name])]
                    for i, name in enumerate(names)
                },
                "scores": [row[f"s{k}"] for k in range(SCORE_BINS)],
                "outcomes": {label: row[f"o{i}"] for i, label in enumerate(labels)},
                "attribution": {},
                "top": {},
                "explained": 0,
            }
        explanations = latest_reason_explanations(
            model_version=mv, decided_at__gte=start, decided_at__lt=end
        )
        feature_names = [s.name for s in schema.features]
        means = {
            f"a{i}": Avg(
                Abs(Cast(KeyTextTransform(name, "attributions"), FloatField()))
            )
            for i, name in enumerate(feature_names)
        }
        for row in (
            explanations.values("month")
            .annotate(explained=Count("id"), **means)
            .order_by()
        ):
            entry = (
                out.get(month_of(row["month"]), {}).get("versions", {}).get(str(mv.pk))
            )
            if entry is not None:
                entry["explained"] = row["explained"]
                entry["attribution"] = {
                    name: row[f"a{i}"]
                    for i, name in enumerate(feature_names)
                    if row[f"a{i}"] is not None
                }
        for row in (
            explanations.exclude(decision__outcome=mv.favourable_class)
            .annotate(top=KeyTextTransform("feature", KeyTransform(0, "reasons")))
            .values("month", "top")
            .annotate(n=Count("id"))
            .order_by()
        ):
            entry = (
                out.get(month_of(row["month"]), {}).get("versions", {}).get(str(mv.pk))
            )
            if entry is not None and row["top"]:
                entry["top"][row["top"]] = row["n"]
    return out


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    label: str
    psi: list[float | None]  # per month (None: no decisions)

    @property
    def worst(self) -> float | None:
        values = [p for p in self.psi if p is not None]
        return max(values) if values else None


@dataclass
class VersionDrift:
    model_version: int
    version: str
    reference: str  # "training" or "background"
    reference_rows: int
    months: list[date]
    decisions: list[int]
    features: list[FeatureDrift] = field(default_factory=list)
    scores: list[list[float]] = field(default_factory=list)  # shares per month
    favourable_rate: list[float | None] = field(default_factory=list)
    attribution_rank_correlation: list[float | None] = field(default_factory=list)
    top_reason_shift: list[float | None] = field(default_factory=list)
    top_reasons: list[dict[str, int]] = field(default_factory=list)


def _shares(counts: list[int]) -> list[float] | None:
    total = sum(counts)
    return [c / total for c in counts] if total else None


def drift_report(
    *,
    principal: Principal,
    ai_system: AISystem,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> list[VersionDrift]:
    """Per model version with decisions in the months, its drift figures."""
    require(principal, "monitoring.read")
    if ai_system.organization_id != principal.organization.pk:
        return []
    months = months_window(since, until)
    data = monthly(ai_system, TOPIC, months, drift_months_compute)
    out: list[VersionDrift] = []
    for mv in ModelVersion.objects.filter(ai_system=ai_system).order_by("created_at"):
        entries = [data.get(m, {}).get("versions", {}).get(str(mv.pk)) for m in months]
        if not any(entries):
            continue
        kept = [(m, e) for m, e in zip(months, entries, strict=True) if e]
        schema = explain.parse_feature_schema(mv.feature_schema)
        reference = mv.training_distribution or {}
        drift = VersionDrift(
            model_version=mv.pk,
            version=mv.version,
            reference=reference.get("source", "training"),
            reference_rows=int(reference.get("rows", 0)),
            months=[m for m, _ in kept],
            decisions=[e["n"] for _, e in kept],
        )
        expected = reference.get("features", {})
        for spec in schema.features:
            if spec.name not in expected:
                continue
            psi: list[float | None] = []
            for _, e in kept:
                actual = _shares(e["bins"].get(spec.name, []))
                psi.append(
                    population_stability_index(expected[spec.name]["shares"], actual)
                    if actual is not None
                    and e["n"] >= DRIFT_MIN_DECISIONS
                    and len(actual) == len(expected[spec.name]["shares"])
                    else None
                )
            drift.features.append(FeatureDrift(spec.name, spec.label, psi))
        drift.features.sort(key=lambda f: -(f.worst or 0.0))
        previous: dict[str, Any] | None = None
        for _, e in kept:
            drift.scores.append(_shares(e["scores"]) or [0.0] * SCORE_BINS)
            n = e["n"]
            fav = e["outcomes"].get(mv.favourable_class, 0)
            drift.favourable_rate.append(fav / n if n else None)
            drift.top_reasons.append(dict(e["top"]))
            if previous is None or n < DRIFT_MIN_DECISIONS:
                drift.attribution_rank_correlation.append(None)
                drift.top_reason_shift.append(None)
            else:
                common = sorted(set(e["attribution"]) & set(previous["attribution"]))
                drift.attribution_rank_correlation.append(
                    spearman(
                        [previous["attribution"][f] for f in common],
                        [e["attribution"][f] for f in common],
                    )
                )
                drift.top_reason_shift.append(_shift(previous["top"], e["top"]))
            if n >= DRIFT_MIN_DECISIONS:
                previous = e
        out.append(drift)
    return out


def _shift(before: dict[str, int], now: dict[str, int]) -> float | None:
    """Total variation distance of two months' top-reason mixes: the share of this
    month's refusals whose top reason would have to change to match the month
    before."""
    nb, nn = sum(before.values()), sum(now.values())
    if not nb or not nn:
        return None
    keys = set(before) | set(now)
    return 0.5 * sum(abs(now.get(k, 0) / nn - before.get(k, 0) / nb) for k in keys)
