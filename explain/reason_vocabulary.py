"""Reason texts may name only what the model uses.

A feature's ``reason`` is the principal-reason text an affected person reads (Reg B's
"income insufficient for amount of credit requested", "length of employment", ...). A
reason that names a quantity the model does not take as an input misstates the logic
involved: the demo once gave "Income insufficient ..." for ``credit_amount`` although
no income is an input. :func:`reason_texts_check` refuses such texts.

The vocabulary below lists the quantities the Reg B sample reasons (12 CFR 1002,
Appendix C, form C-1; the catalogue in the data README) name, each with the words that
denote it. A reason text that contains one of those words names the quantity; the
quantity is then allowed only when the feature the reason belongs to denotes it too,
i.e. one of the same words occurs in the feature's name, label or description (its
"obvious words"). Another feature denoting the quantity is not enough: the reason
must describe the factor the model actually weighed for that feature.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from explain.schema import FeatureSchema, FeatureSpec

# quantity -> the words that denote it (lower case, singular; plurals match too)
REASON_VOCABULARY: dict[str, frozenset[str]] = {
    "income": frozenset({"income", "salary", "earning", "wage", "pay"}),
    "obligations": frozenset(
        {"obligation", "instalment", "installment", "debt", "liability", "repayment"}
    ),
    "employment": frozenset(
        {"employment", "employed", "job", "occupation", "employer"}
    ),
    "residence": frozenset({"residence", "resident", "address", "housing"}),
    # a guarantee is personal security for a credit, so a guarantor feature may say so
    "collateral": frozenset(
        {"collateral", "security", "pledge", "guarantor", "guarantee"}
    ),
    "credit references": frozenset({"reference"}),
    "credit inquiries": frozenset({"inquiry", "enquiry"}),
    "delinquency": frozenset({"delinquent", "delinquency", "arrears", "default"}),
    "collection action": frozenset({"collection", "judgment", "judgement"}),
    "garnishment": frozenset({"garnishment", "attachment"}),
    "foreclosure": frozenset({"foreclosure", "repossession"}),
    "bankruptcy": frozenset({"bankruptcy", "insolvency"}),
}

_WORD = re.compile(r"[a-z]+")


def _words(text: str) -> set[str]:
    """Lower-case words of ``text`` (snake_case names split), each also singularised."""
    out: set[str] = set()
    for word in _WORD.findall(text.lower().replace("_", " ")):
        out.add(word)
        if word.endswith("ies") and len(word) > 4:
            out.add(word[:-3] + "y")
        elif word.endswith("s") and not word.endswith("ss") and len(word) > 3:
            out.add(word[:-1])
    return out


def feature_words(feature: FeatureSpec) -> set[str]:
    """The words that denote what ``feature`` is: its name, label and description."""
    return _words(f"{feature.name} {feature.label} {feature.description}")


def reason_unused_quantities(
    feature: FeatureSpec, text: str | None = None
) -> list[tuple[str, str]]:
    """(quantity, word) pairs the feature's reason (or ``text``, another English
    wording of it) names but the feature does not denote."""
    reason = _words(feature.reason if text is None else text)
    own = feature_words(feature)
    found = []
    for quantity, words in REASON_VOCABULARY.items():
        named = sorted(reason & words)
        if named and not own & words:
            found.append((quantity, named[0]))
    return found


def reason_texts_check(
    schema: FeatureSchema | Iterable[FeatureSpec],
) -> dict[str, list[str]]:
    """Errors by ``features.<i>.reason`` path for reason texts naming an unused quantity."""
    features = schema.features if isinstance(schema, FeatureSchema) else schema
    errors: dict[str, list[str]] = {}
    for index, feature in enumerate(features):
        plain = (feature.translations.get("en") or {}).get("reason")
        for path, text in (
            (f"features.{index}.reason", None),
            (f"features.{index}.translations.en.reason", plain),
        ):
            if path.endswith("en.reason") and not plain:
                continue
            for quantity, word in reason_unused_quantities(feature, text):
                errors.setdefault(path, []).append(
                    f"The reason for feature '{feature.name}' names '{word}' "
                    f"({quantity}), which is not what this feature measures; a "
                    "reason must describe the input the model weighed."
                )
    return errors
