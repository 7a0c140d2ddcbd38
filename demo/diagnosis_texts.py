"""The diagnosis demo's texts for people in German (``de``), and the outcome words in
plain English and German, as the feature schema's ``translations`` and
``outcome_labels`` (read by notices)."""

from __future__ import annotations

from typing import Any

OUTCOME_LABELS = {
    "en": {
        "benign": "no sign of cancer (benign)",
        "malignant": "signs that may point to cancer (suspicious for malignancy)",
    },
    "de": {
        "benign": "kein Hinweis auf Krebs (gutartig)",
        "malignant": "Hinweise, die auf Krebs deuten können (Verdacht auf Bösartigkeit)",
    },
}

# measurement -> (German label noun, German reason noun)
DE_MEASUREMENTS = {
    "radius": ("Radius", "Radius"),
    "texture": ("Textur", "Textur (Grauwert-Streuung)"),
    "perimeter": ("Umfang", "Umfang"),
    "area": ("Fläche", "Fläche"),
    "smoothness": ("Glätte", "Unregelmäßigkeit der Kontur"),
    "compactness": ("Kompaktheit", "Kompaktheit"),
    "concavity": ("Konkavität", "Konkavität"),
    "concave points": ("Konkave Stellen", "Zahl der konkaven Stellen"),
    "symmetry": ("Symmetrie", "Asymmetrie"),
    "fractal dimension": ("Fraktale Dimension", "Fraktale Dimension"),
}
DE_ADJECTIVES = {"Atypical": "untypisch", "Large": "groß", "High": "hoch"}


def translations(statistic: str, measurement: str, adjective: str) -> dict[str, Any]:
    """The German label and reason of one of the 30 measurements (``statistic``:
    mean, worst or error; ``adjective``: the English reason's Atypical/Large/High)."""
    noun, reason_noun = DE_MEASUREMENTS[measurement]
    word = DE_ADJECTIVES[adjective]
    if statistic == "mean":
        label = f"{noun} (Mittelwert)"
        reason = f"{reason_noun} der Zellkerne im Mittel {word}"
    elif statistic == "worst":
        label = f"{noun} (auffälligste Zellkerne)"
        reason = f"{reason_noun} der auffälligsten Zellkerne {word}"
    else:
        label = f"{noun} (Standardfehler)"
        spread = "untypisch" if adjective == "Atypical" else "stark"
        reason = f"{reason_noun} schwankt {spread} zwischen den Zellkernen"
    return {"de": {"label": label, "reason": reason}}
