"""The documented maximum length of every free-text field people write, in one place.

Services enforce them (a 400 naming the field over the API, a form error on the web),
API input serializers declare them (``max_length``, so the OpenAPI schema shows them),
and the dossier bounds what it prints by them. A new free-text field (e.g. a contest
statement) takes its cap from here.
"""

from __future__ import annotations

from typing import Any

# human review (compliance/reviews)
REVIEW_JUSTIFICATION = 4000
SUPERSEDE_REASON = 2000
CONFIRMATION_NOTE = 2000
PRELIMINARY_NOTE = 2000
# an administrator's note on a training drill (what the case teaches)
DRILL_NOTE = 2000
# a dossier's reissue reason (compliance/dossiers)
REISSUE_REASON = 2000
# what a person wrote to contest a decision, as their client system forwards it
CONTEST_STATEMENT = 5000

# an AI system's description and a model version's documentation (compliance/registry)
INTENDED_PURPOSE = 5000
INSTRUCTIONS_FOR_USE = 20000
KNOWN_LIMITATIONS = 20000
TRAINING_DATA_SUMMARY = 20000
# its short fields (names, provider, deployer, Annex III category)
SHORT_TEXT = 200

FREE_TEXT_MAX: dict[str, int] = {
    "statement": CONTEST_STATEMENT,
    "justification": REVIEW_JUSTIFICATION,
    "supersede_reason": SUPERSEDE_REASON,
    "confirmation_note": CONFIRMATION_NOTE,
    "preliminary_note": PRELIMINARY_NOTE,
    "reissue_reason": REISSUE_REASON,
    "intended_purpose": INTENDED_PURPOSE,
    "instructions_for_use": INSTRUCTIONS_FOR_USE,
    "known_limitations": KNOWN_LIMITATIONS,
    "training_data_summary": TRAINING_DATA_SUMMARY,
}
AI_SYSTEM_TEXT_MAX: dict[str, int] = {
    "name": SHORT_TEXT,
    "provider": SHORT_TEXT,
    "intended_purpose": INTENDED_PURPOSE,
    "annex_iii_category": SHORT_TEXT,
    "deployer": SHORT_TEXT,
    "instructions_for_use": INSTRUCTIONS_FOR_USE,
    "known_limitations": KNOWN_LIMITATIONS,
}


def text_limits_check(fields: dict[str, tuple[Any, int]]) -> dict[str, list[str]]:
    """The fields whose text is longer than its cap, as a form-error mapping (field →
    message); ``fields`` maps a field's name to (text, cap). Whitespace at either end
    does not count (services strip it)."""
    errors: dict[str, list[str]] = {}
    for name, (text, cap) in fields.items():
        length = len(str(text or "").strip())
        if length > cap:
            label = name.replace("_", " ").capitalize()
            errors[name] = [
                f"{label}: at most {cap:,} characters (this has {length:,})."
            ]
    return errors
