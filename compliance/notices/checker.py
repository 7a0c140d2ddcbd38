"""The faithfulness check run on every notice before it is issued: what the notice
says must be what the stored record says.

Against the stored explanation the reasons rest on (read again from the database,
never from the notice's own copy) and the decision's stored inputs, it proves:

* the reasons named are exactly the top adverse, non-protected, non-proxy features,
  in that order (none when the outcome is favourable);
* each stated direction matches the sign of the stored attribution;
* no protected attribute and no flagged proxy is named, as a reason or as a change;
* every number quoted equals the stored one: each reason's value is the decision's
  input, each change starts from the decision's input and ends at the stored
  counterfactual target rounded to an actionable step (away from the start), and the
  re-verified probability clears the threshold by the margin;
* the HTML says it: every reason sentence, value and change appears, in order.

A notice that fails is not issued (``NoticeUnfaithful``, audited by the caller).
"""

from __future__ import annotations

import html as html_lib
import math
import re
from dataclasses import dataclass, field
from typing import Any

import explain
from compliance.errors import DomainError
from compliance.models import Decision, Explanation
from compliance.notices.content import (
    adverse_sign,
    excluded_features,
    expected_reasons,
    notice_regimes,
)
from compliance.notices.recourse import round_actionable


class NoticeUnfaithful(DomainError):  # noqa: N818 (a domain error, named for users)
    status_code = 422
    code = "notice_unfaithful"


@dataclass
class CheckResult:
    failures: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": self.checks, "failures": self.failures}


def _text(html: str) -> str:
    """The HTML's visible text, entities decoded, white space collapsed."""
    without_tags = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", html_lib.unescape(without_tags)).strip()


def _same_number(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-9)
    return bool(a == b)


def _appear_in_order(text: str, pieces: list[str]) -> bool:
    at = 0
    for piece in pieces:
        found = text.find(_text(piece), at)
        if found < 0:
            return False
        at = found + len(_text(piece))
    return True


def notice_check(
    content: dict[str, Any], html: str, *, decision: Decision
) -> CheckResult:
    """Check ``content`` (and its rendering ``html``) against the stored record."""
    result = CheckResult()
    fail, ok = result.failures.append, result.checks.append
    mv = decision.model_version
    schema = explain.parse_feature_schema(mv.feature_schema)
    specs = schema.by_name()
    excluded = excluded_features(schema, mv)
    cited = content.get("explanation")
    stored = (
        Explanation.objects.filter(pk=cited, decision=decision).first()
        if isinstance(cited, int)
        else None
    )
    if stored is None:
        fail("the explanation the notice cites is not one of this decision's")
        return result
    reasons = content.get("reasons") or []
    named = [r.get("feature") for r in reasons]
    adverse = notice_regimes(decision)["adverse"]
    expected = expected_reasons(stored.attributions, schema, mv) if adverse else []
    if named == expected:
        ok("reasons: exactly the top adverse statable features, in order")
    elif sorted(map(str, named)) == sorted(expected):
        fail(f"reasons out of order: {named} (stored order {expected})")
    else:
        fail(f"reasons named {named}, the stored explanation gives {expected}")
    sign = adverse_sign(mv)
    for reason in reasons:
        name = reason.get("feature")
        if name in excluded:
            fail(f"{name} is named though it is {excluded[name]}")
            continue
        if name not in specs:
            fail(f"{name} is not a feature of this model")
            continue
        attribution = float(stored.attributions.get(name, 0.0))
        stated = reason.get("direction")
        actual = "adverse" if attribution * sign > 0 else "favourable"
        if stated != actual:
            fail(f"{name}: stated {stated}, the stored attribution is {actual}")
        if not _same_number(reason.get("attribution"), attribution):
            fail(f"{name}: attribution {reason.get('attribution')} != stored")
        if not _same_number(reason.get("value"), decision.features.get(name)):
            fail(
                f"{name}: value {reason.get('value')!r} quoted, the decision's input "
                f"is {decision.features.get(name)!r}"
            )
        if str(reason.get("value_text", "")) not in str(reason.get("sentence", "")):
            fail(f"{name}: the sentence does not quote the value")
    if not result.failures:
        ok("directions match the stored attributions' signs; values are the inputs")
    _check_recourse(
        content.get("recourse") or {}, stored, decision, specs, excluded, result
    )
    text = _text(html)
    pieces = [r.get("sentence", "") for r in reasons]
    pieces += [
        c.get("sentence", "")
        for c in (content.get("recourse") or {}).get("changes", [])
    ]
    if _appear_in_order(text, [str(p) for p in pieces]):
        ok("the HTML states every reason and change, in order")
    else:
        fail("the HTML does not state every reason and change in order")
    for name, why in excluded.items():
        label = str(specs[name].label)
        if any(label and label in str(r.get("sentence", "")) for r in reasons):
            fail(f"a reason sentence names {label} ({why})")
    return result


def _check_recourse(
    recourse: dict[str, Any],
    stored: Explanation,
    decision: Decision,
    specs: dict[str, Any],
    excluded: dict[str, str],
    result: CheckResult,
) -> None:
    fail, ok = result.failures.append, result.checks.append
    changes = recourse.get("changes") or []
    if recourse.get("status") != "found":
        if changes:
            fail("changes are stated though no recourse was found")
        return
    counterfactual = stored.run.counterfactual or {}
    options = [counterfactual, *(counterfactual.get("alternatives") or [])]
    index = recourse.get("option")
    if not isinstance(index, int) or not 0 <= index < len(options):
        fail("the recourse cites no stored counterfactual option")
        return
    option = options[index].get("changes") or {}
    if [c.get("feature") for c in changes] != list(option):
        fail("the changes stated are not the stored counterfactual's")
        return
    for change in changes:
        name = change["feature"]
        if name in excluded:
            fail(f"a change of {name} is proposed though it is {excluded[name]}")
        before = decision.features.get(name)
        if not _same_number(change.get("from"), before):
            fail(f"{name}: change quoted from {change.get('from')!r}, input {before!r}")
        target = round_actionable(specs[name], before, option[name]["to"])
        if not _same_number(change.get("to"), target):
            fail(
                f"{name}: target {change.get('to')!r} quoted, the stored target "
                f"rounded is {target!r}"
            )
        for key in ("to_text", "from_text"):
            if str(change.get(key, "")) not in str(change.get("sentence", "")):
                fail(f"{name}: the sentence does not quote {key}")
    probability = recourse.get("probability_after")
    threshold, margin = recourse.get("threshold"), recourse.get("margin")
    mv = decision.model_version
    if not all(isinstance(v, (int, float)) for v in (probability, threshold, margin)):
        fail("the recourse was not re-verified")
        return
    favourable_scored = mv.class_labels[-1] == mv.favourable_class
    clears = (
        probability >= threshold + margin  # type: ignore[operator]
        if favourable_scored
        else probability <= threshold - margin  # type: ignore[operator]
    )
    if threshold != mv.decision_threshold or not clears:
        fail("the rounded recourse does not clear the threshold by the margin")
    else:
        ok("recourse: the stored targets rounded away, re-verified past the margin")
