"""What a notice states, as facts taken from the stored record: the decision and the
person's review of it, the main reasons (from the stored explanation of the method
the decision's reasons come from), recourse (rounded, re-verified) and the person's
rights. Every sentence about a reason is written here from these facts, in the
notice's language; the checker (``compliance.notices.checker``) proves them against
the stored explanation before anything is issued.

The facts are JSON (stored with the notice): ``content["reasons"]`` holds per reason
the feature, the person's value, the stated direction and the attribution it rests
on, beside the sentence that says it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

import explain
from compliance.errors import ValidationFailed
from compliance.explanations.presentation import reasons_source
from compliance.explanations.selectors import explanations_newest
from compliance.models import Decision, Explanation, ModelVersion
from compliance.notices.language import date_text, number_text
from compliance.notices.recourse import Recourse, Scorer, actionable_recourse
from explain import texts
from explain.proxies import proxy_map
from explain.schema import FeatureSchema, FeatureSpec

MAX_REASONS = 4  # Reg B: up to four specific principal reasons


class NoticeIncomplete(ValidationFailed):  # noqa: N818 (a domain error, named for users)
    code = "notice_incomplete"


@dataclass
class NoticeContent:
    content: dict[str, Any]  # the facts and sentences (stored with the notice)
    warnings: list[str] = field(default_factory=list)
    explanation: Explanation | None = None  # whose attributions the reasons rest on


def notice_kind(decision: Decision) -> str:
    """``credit``, ``diagnosis`` or ``general``, from the AI system's Annex III
    category (as for dossiers)."""
    category = (decision.ai_system.annex_iii_category or "").lower()
    if "credit" in category or "5(b)" in category:
        return "credit"
    if any(word in category for word in ("medical", "diagnos", "health", "clinical")):
        return "diagnosis"
    return "general"


def notice_regimes(decision: Decision) -> dict[str, bool]:
    org = decision.organization
    mv = decision.model_version
    kind = notice_kind(decision)
    adverse = _final_outcome(decision) != mv.favourable_class
    eu = "EU" in org.jurisdiction
    return {
        "gdpr_art_22": eu,
        "ai_act_art_86": eu and bool(decision.ai_system.annex_iii_category),
        "reg_b": "US" in org.jurisdiction and kind == "credit" and adverse,
        "adverse": adverse,
    }


def _final_outcome(decision: Decision) -> str:
    return decision.final_outcome or decision.outcome


def adverse_sign(mv: ModelVersion) -> float:
    """+1 when a positive attribution pushes toward the adverse outcome."""
    return 1.0 if mv.class_labels[-1] != mv.favourable_class else -1.0


def excluded_features(schema: FeatureSchema, mv: ModelVersion) -> dict[str, str]:
    """Features a notice never names: protected attributes and their flagged
    proxies, with why."""
    excluded = {s.name: "protected" for s in schema.features if s.protected}
    for name in proxy_map(mv.proxy_analysis):
        excluded.setdefault(name, "proxy")
    return excluded


def expected_reasons(
    attributions: dict[str, float],
    schema: FeatureSchema,
    mv: ModelVersion,
    limit: int = MAX_REASONS,
) -> list[str]:
    """The features a notice must name, in order: those pushing toward the adverse
    outcome (largest first, ties in schema order), never a protected attribute or a
    flagged proxy."""
    sign = adverse_sign(mv)
    excluded = excluded_features(schema, mv)
    ranked = [
        (-(attributions.get(s.name, 0.0) * sign), i, s.name)
        for i, s in enumerate(schema.features)
        if s.name not in excluded and attributions.get(s.name, 0.0) * sign > 0
    ]
    return [name for _, _, name in sorted(ranked)[:limit]]


def reasons_explanation(decision: Decision) -> Explanation | None:
    """The stored explanation the decision's reasons come from (the newest run's
    reasons method; for older runs the lead method, as the dossier chooses)."""
    newest = {e.method: e for e in explanations_newest(decision)}
    lead = newest.get("integrated_gradients") or next(iter(newest.values()), None)
    if lead is None:
        return None
    return reasons_source(
        lead.run, fallback=lead, explanations=newest.values()
    ).explanation


class _Texts:
    """The schema's texts in one language, remembering every fallback."""

    def __init__(self, schema: FeatureSchema, language: str):
        self.schema, self.language = schema, language
        self.warnings: list[str] = []

    def _note(self, text: texts.Text, what: str) -> str:
        if text.fallback:
            warning = f"no {self.language} text for {what}; the base text was used"
            if warning not in self.warnings:
                self.warnings.append(warning)
        return text.text

    def label(self, spec: FeatureSpec) -> str:
        return self._note(
            texts.feature_label(spec, self.language), f"the label of {spec.name}"
        )

    def reason(self, spec: FeatureSpec) -> str:
        return self._note(
            texts.feature_reason(spec, self.language), f"the reason of {spec.name}"
        )

    def unit(self, spec: FeatureSpec) -> str:
        return self._note(
            texts.feature_unit(spec, self.language), f"the unit of {spec.name}"
        )

    def outcome(self, label: str) -> str:
        return self._note(
            texts.outcome_label(self.schema, label, self.language),
            f"the outcome {label!r}",
        )

    def value(self, spec: FeatureSpec, value: Any) -> str:
        """The person's value as they would say it: a number with its unit, a
        category in plain words, yes or no."""
        if spec.kind == "numeric":
            unit = self.unit(spec)
            number = number_text(value, self.language)
            if (
                not unit
                and spec.integer
                and spec.min is not None
                and spec.max is not None
                and spec.max - spec.min <= 10
            ):
                # a level without a unit (an ordinal code): say what scale it is on
                return _("%(value)s on a scale from %(low)s to %(high)s") % {
                    "value": number,
                    "low": number_text(spec.min, self.language),
                    "high": number_text(spec.max, self.language),
                }
            return f"{number} {unit}".strip()
        if spec.kind == "binary":
            return _("yes") if bool(value) else _("no")
        return self._note(
            texts.category_label(spec, str(value), self.language),
            f"the category {value!r} of {spec.name}",
        )


def _review_facts(decision: Decision, language: str) -> dict[str, Any]:
    reviews = list(
        decision.reviews.select_related("reviewer").order_by("created_at", "pk")
    )
    standing = [r for r in reviews if not hasattr(r, "superseded_by")]
    last = standing[-1] if standing else None
    person = decision.final_outcome_by or (last.reviewer if last else None)
    name = ""
    if person is not None:
        name = person.get_full_name() or person.get_username()
    return {
        "reviewed": last is not None,
        "final": decision.status == Decision.Status.FINAL,
        "reviewer": name[:200],
        "action": last.action if last is not None else "",
        "reviewed_on": (
            (decision.finalized_at or last.created_at).date().isoformat()
            if last is not None
            else ""
        ),
        "reviewed_on_text": (
            date_text((decision.finalized_at or last.created_at).date(), language)
            if last is not None
            else ""
        ),
        "changed": bool(
            decision.final_outcome and decision.final_outcome != decision.outcome
        ),
    }


def _reason_rows(
    decision: Decision,
    explanation: Explanation,
    schema: FeatureSchema,
    t: _Texts,
    kind: str,
) -> list[dict[str, Any]]:
    specs = schema.by_name()
    mv = decision.model_version
    sign = adverse_sign(mv)
    rows = []
    for rank, name in enumerate(
        expected_reasons(explanation.attributions, schema, mv), start=1
    ):
        spec = specs[name]
        attribution = float(explanation.attributions[name])
        value = decision.features.get(name)
        direction = "adverse" if attribution * sign > 0 else "favourable"
        value_text = t.value(spec, value)
        reason = t.reason(spec)
        if kind == "credit":
            effect = _("This counted against your application.")
        else:
            effect = _("This pointed towards this result.")
        sentence = _("%(reason)s. Your value: %(value)s. %(effect)s") % {
            "reason": reason.rstrip("."),
            "value": value_text,
            "effect": effect,
        }
        rows.append(
            {
                "rank": rank,
                "feature": name,
                "label": t.label(spec),
                "reason": reason,
                "value": value,
                "value_text": value_text,
                "direction": direction,
                "attribution": attribution,
                "sentence": sentence,
            }
        )
    return rows


def _recourse_facts(
    recourse: Recourse, decision: Decision, schema: FeatureSchema, t: _Texts
) -> dict[str, Any]:
    specs = schema.by_name()
    changes = []
    for change in recourse.changes:
        spec = specs[change["feature"]]
        from_text = t.value(spec, change["from"])
        to_text = t.value(spec, change["to"])
        changes.append(
            {
                **change,
                "label": t.label(spec),
                "from_text": from_text,
                "to_text": to_text,
                "sentence": _("%(label)s: %(to)s instead of %(from)s")
                % {
                    "label": t.label(spec),
                    "to": to_text,
                    "from": from_text,
                },
            }
        )
    return {
        "status": recourse.status,
        "option": recourse.option,
        "changes": changes,
        "probability_after": recourse.probability_after,
        "threshold": recourse.threshold,
        "margin": recourse.margin,
        "plausibility": recourse.plausibility,
        "note": recourse.note,
    }


def notice_content(
    decision: Decision,
    language: str,
    *,
    scorer: Callable[[], tuple[FeatureSchema, Scorer]] | None = None,
) -> NoticeContent:
    """The facts and sentences of ``decision``'s notice in ``language``, or
    NoticeIncomplete naming what is missing. ``scorer`` gives the model version's
    parsed schema and a scoring function (loaded only when recourse is offered)."""
    mv = decision.model_version
    schema = explain.parse_feature_schema(mv.feature_schema)
    kind = notice_kind(decision)
    rules = notice_regimes(decision)
    explanation = reasons_explanation(decision)
    if explanation is None:
        raise NoticeIncomplete(
            "A notice needs an explanation of the decision that gives reasons "
            "(request one with a method such as Integrated Gradients first).",
            {"decision": ["no explanation with reasons"]},
        )
    with override(language):
        t = _Texts(schema, language)
        reasons = (
            _reason_rows(decision, explanation, schema, t, kind)
            if rules["adverse"]
            else []
        )
        if rules["adverse"] and not reasons:
            raise NoticeIncomplete(
                "The stored explanation names no feature that pushed toward this "
                "outcome and may be stated (protected attributes and their proxies "
                "never are); no notice can give reasons.",
                {"decision": ["no statable reasons"]},
            )
        recourse: dict[str, Any] = {"status": "not_offered", "changes": []}
        run = explanation.run
        model_adverse = decision.outcome != mv.favourable_class
        if kind != "diagnosis" and rules["adverse"] and model_adverse:
            if run.counterfactual and scorer is not None:
                live_schema, score = scorer()
                found = actionable_recourse(
                    schema=live_schema,
                    row=decision.features,
                    counterfactual=run.counterfactual,
                    threshold=mv.decision_threshold,
                    scored_is_favourable=mv.class_labels[-1] == mv.favourable_class,
                    score=score,
                    excluded=tuple(excluded_features(schema, mv)),
                )
            else:
                found = Recourse(status="none", note="no_counterfactual")
            recourse = _recourse_facts(found, decision, schema, t)
        org = decision.organization
        today = timezone.now().date()
        deadline = today + timedelta(days=org.contest_days)
        content = {
            "language": language,
            "kind": kind,
            "regimes": rules,
            "reference": decision.external_id[:200],
            "organization": org.name[:200],
            "postal_address": org.postal_address[:1000],
            "contact": org.contact[:200],
            "regulator": org.regulator[:1000],
            "credit_agency": org.credit_agency[:1000],
            "contest_days": org.contest_days,
            "deadline": deadline.isoformat(),
            "deadline_text": date_text(deadline, language),
            "issued_on_text": date_text(today, language),
            "decided_on_text": date_text(decision.decided_at.date(), language),
            "ai_system": decision.ai_system.name[:200],
            "model_outcome": decision.outcome,
            "model_outcome_text": t.outcome(decision.outcome),
            "final_outcome": _final_outcome(decision),
            "final_outcome_text": t.outcome(_final_outcome(decision)),
            "review": _review_facts(decision, language),
            "explanation": explanation.pk,
            "method": explanation.method,
            "reasons": reasons,
            "recourse": recourse,
        }
    _check_finite(content)
    return NoticeContent(content=content, warnings=t.warnings, explanation=explanation)


def _check_finite(content: dict[str, Any]) -> None:
    for reason in content["reasons"]:
        if not math.isfinite(reason["attribution"]):
            raise NoticeIncomplete(
                "The stored explanation holds a non-finite attribution; no notice "
                "can state it.",
                {"decision": ["non-finite attribution"]},
            )
