"""Small feature schemas for tests; no Django needed."""

from __future__ import annotations

from typing import Any

TINY_SCHEMA: dict[str, Any] = {
    "features": [
        {
            "name": "income",
            "label": "Monthly income",
            "kind": "numeric",
            "unit": "EUR",
            "min": 0,
            "max": 100000,
            "immutable": False,
            "protected": False,
            "actionable_direction": "increase",
            "reason": "Income insufficient for amount of credit requested",
        },
        {
            "name": "age",
            "label": "Age",
            "kind": "numeric",
            "unit": "years",
            "min": 18,
            "max": 100,
            "integer": True,
            "immutable": True,
            "protected": True,
            "actionable_direction": "none",
        },
        {
            "name": "purpose",
            "label": "Purpose",
            "kind": "categorical",
            "categories": ["car", "education", "other"],
            "actionable_direction": "any",
            "reason": "Loan purpose",
        },
        {
            "name": "has_guarantor",
            "label": "Has a guarantor",
            "kind": "binary",
            "actionable_direction": "increase",
            "reason": "Value or type of collateral not sufficient",
        },
    ],
    "preprocessing": {
        "income": {"mean": 3000.0, "std": 1500.0},
        "age": {"mean": 40.0, "std": 12.0},
    },
}

VALID_FEATURES: dict[str, Any] = {
    "income": 2500.0,
    "age": 35,
    "purpose": "car",
    "has_guarantor": False,
}

# the training baseline a registered tiny model version carries (medians and modes)
TINY_BASELINE: dict[str, Any] = {
    "income": 3000.0,
    "age": 40,
    "purpose": "other",
    "has_guarantor": False,
}
