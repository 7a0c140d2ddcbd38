"""The diagnosis demo: breast mass fine-needle aspirates scored for the probability of malignancy.

Data: scikit-learn's bundled Wisconsin Diagnostic Breast Cancer set (569 x 30), loaded from disk.
scikit-learn codes the target 0 = malignant, 1 = benign; here label 1 means malignant, the scored
class. Each of the ten nucleus measurements appears as its mean, its standard error and its
"worst" value (mean of the three largest) over the nuclei in the image.

Size measurements (radius, perimeter, area) carry no unit: the source documents none, and they
are image measurements, not millimetres (a nucleus is about a hundredth of a millimetre across).
No feature is protected or immutable, but none is actionable either: they describe the tumour.
"""

from __future__ import annotations

import math
from typing import Any

from sklearn.datasets import load_breast_cancer

from demo import diagnosis_texts, training

CLASS_LABELS = ("benign", "malignant")
SCORED_CLASS = "malignant"
FAVOURABLE_CLASS = "benign"
SKLEARN_MALIGNANT_TARGET = 0

NOT_ACTIONABLE_NOTE = (
    "Measured on a digitised image of a fine-needle aspirate of a breast mass; it describes the "
    "tumour and is not actionable by the patient (actionable_direction none)."
)

# Per measurement: label noun, the noun used in reason texts, and what it measures. A reason
# calls a value pushing towards malignancy "Large" (sizes) or "High"; "Atypical" where the
# feature barely correlates with malignancy, so that the reason claims no direction.
MEASUREMENTS: dict[str, tuple[str, str, str]] = {
    "radius": (
        "radius",
        "radius",
        "nucleus radius (mean distance from the centre to the contour)",
    ),
    "texture": (
        "texture",
        "texture (grey-level spread)",
        "texture (standard deviation of grey values)",
    ),
    "perimeter": ("perimeter", "perimeter", "nucleus perimeter"),
    "area": ("area", "area", "nucleus area"),
    "smoothness": (
        "smoothness",
        "contour irregularity (smoothness measure)",
        "smoothness measure (local variation in radius lengths; higher is less smooth)",
    ),
    "compactness": (
        "compactness",
        "compactness",
        "compactness (perimeter squared / area - 1)",
    ),
    "concavity": (
        "concavity",
        "concavity",
        "concavity (severity of concave portions of the contour)",
    ),
    "concave points": (
        "concave points",
        "number of concave points",
        "number of concave portions of the contour",
    ),
    "symmetry": (
        "symmetry",
        "asymmetry (symmetry measure)",
        "symmetry measure (higher is less symmetric)",
    ),
    "fractal dimension": (
        "fractal dimension",
        "fractal dimension",
        "fractal dimension of the contour ('coastline approximation' - 1)",
    ),
}
SIZE_MEASUREMENTS = ("radius", "perimeter", "area")
DIRECTIONLESS_FEATURES = (
    "mean fractal dimension",
    "texture error",
    "smoothness error",
    "symmetry error",
    "fractal dimension error",
)

TRAINING = training.TrainingSettings(
    split_seed=20261121,
    torch_seed=202,
    epochs=200,
    learning_rate=0.003,
    weight_decay=0.05,
)

AI_SYSTEM = {
    "name": "Demo Clinic breast cytology decision support",
    "provider": "Demo Clinic digital pathology unit (in-house development; fictional)",
    "intended_purpose": (
        "Estimates the probability that a breast mass is malignant from 30 nucleus measurements "
        "of a digitised fine-needle aspirate image, to support a cytopathologist's diagnosis. "
        "Cases scored at 0.5 or above are flagged as suspicious for malignancy; the diagnosis "
        "is always made and signed by the cytopathologist."
    ),
    "annex_iii_category": "Art. 6(1) / Annex I: medical device (MDR) — diagnostic support",
    "deployer": "Demo Clinic breast care centre, cytopathology department (fictional)",
    "instructions_for_use": (
        "Use only with measurements produced by the validated image-analysis pipeline on "
        "fine-needle aspirates of breast masses in adult patients. Treat the score as a second "
        "reader: review the explanation for every case, and never withhold a biopsy or follow-up "
        "because of a benign score alone. Report suspected errors to the provider."
    ),
    "known_limitations": (
        "Trained on 569 cases from one centre (University of Wisconsin, early 1990s) with a "
        "single imaging and measurement protocol; performance on other scanners, stains or "
        "populations is unknown. Measurements outside the declared ranges are rejected. The "
        "model has not been clinically validated and is a demonstration, not a medical device."
    ),
}


def snake_case(feature_name: str) -> str:
    """scikit-learn's feature name as an identifier: ``"mean radius"`` → ``"mean_radius"``."""
    return feature_name.strip().lower().replace(" ", "_")


def generous_upper_bound(data_max: float) -> float:
    """A declared maximum comfortably above the data: 1.5 x the maximum, rounded up to two
    significant digits (``28.11`` → ``43.0``, ``2501`` → ``3800``)."""
    target = 1.5 * data_max
    if target <= 0:
        return 1.0
    decimals = 1 - math.floor(math.log10(target))
    if decimals >= 0:
        return math.ceil(target * 10**decimals) / 10**decimals
    return float(math.ceil(target / 10**-decimals) * 10**-decimals)


def split_feature_name(feature_name: str) -> tuple[str, str]:
    """``"mean radius"`` → ``("mean", "radius")``; ``"radius error"`` → ``("error", "radius")``."""
    if feature_name.startswith("mean "):
        return "mean", feature_name.removeprefix("mean ")
    if feature_name.startswith("worst "):
        return "worst", feature_name.removeprefix("worst ")
    return "error", feature_name.removesuffix(" error")


def describe_feature(feature_name: str) -> dict[str, Any]:
    """Label, reason text and description for one of scikit-learn's 30 feature names."""
    statistic, measurement = split_feature_name(feature_name)
    noun, reason_noun, meaning = MEASUREMENTS[measurement]
    if feature_name in DIRECTIONLESS_FEATURES:
        adjective = "Atypical"
    elif measurement in SIZE_MEASUREMENTS:
        adjective = "Large"
    else:
        adjective = "High"
    if statistic == "mean":
        label = f"Mean {noun}"
        reason = f"{adjective} mean {reason_noun} of the cell nuclei"
        how = f"Mean over the nuclei in the image of the {meaning}."
    elif statistic == "worst":
        label = f"Worst {noun}"
        reason = f"{adjective} {reason_noun} in the most abnormal cell nuclei"
        how = f"Mean of the three largest values over the nuclei of the {meaning}."
    else:
        label = f"{noun.capitalize()} (standard error)"
        spread = "Atypical" if adjective == "Atypical" else "High"
        reason = f"{spread} variation of {reason_noun} across the cell nuclei"
        how = f"Standard error over the nuclei in the image of the {meaning}."
    return {
        "label": label,
        "reason": reason,
        "description": f"{how} {NOT_ACTIONABLE_NOTE}",
        "translations": diagnosis_texts.translations(statistic, measurement, adjective),
    }


def load_diagnosis_rows() -> tuple[list[dict[str, Any]], list[int]]:
    """scikit-learn's breast cancer data as feature rows and labels (1 = malignant, scored)."""
    data = load_breast_cancer()
    names = [snake_case(str(n)) for n in data.feature_names]
    rows = [
        {name: float(value) for name, value in zip(names, sample, strict=True)}
        for sample in data.data
    ]
    labels = [int(target == SKLEARN_MALIGNANT_TARGET) for target in data.target]
    return rows, labels


def build_diagnosis_schema(training_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Build the diagnosis feature schema; standardisation statistics from ``training_rows``.

    Declared ranges are 0 to a generous bound above the maximum of the whole data set.
    """
    data = load_breast_cancer()
    features: list[dict[str, Any]] = []
    for raw_name, column_max in zip(
        data.feature_names, data.data.max(axis=0), strict=True
    ):
        texts = describe_feature(str(raw_name))
        features.append(
            {
                "name": snake_case(str(raw_name)),
                "label": texts["label"],
                "kind": "numeric",
                "integer": False,
                "unit": "",
                "min": 0.0,
                "max": generous_upper_bound(float(column_max)),
                "immutable": False,
                "protected": False,
                "actionable_direction": "none",
                "reason": texts["reason"],
                "description": texts["description"],
                "translations": texts["translations"],
            }
        )
    preprocessing = {
        spec["name"]: training.mean_and_std(
            [float(row[spec["name"]]) for row in training_rows]
        )
        for spec in features
    }
    return {
        "features": features,
        "preprocessing": preprocessing,
        "outcome_labels": diagnosis_texts.OUTCOME_LABELS,
    }


def describe_training_data(
    labels: list[int], trained: training.TrainedDemoModel
) -> str:
    """The model version's training data summary: source, size, split, balance, licence."""
    malignant = sum(labels)
    train_malignant = sum(labels[i] for i in trained.train_indices)
    test_malignant = sum(labels[i] for i in trained.test_indices)
    metrics = trained.performance_metrics
    return (
        f"Breast Cancer Wisconsin (Diagnostic) data set (Wolberg, Street and Mangasarian, "
        f"1995) as bundled with scikit-learn: {len(labels)} fine-needle aspirates, 30 nucleus "
        f"measurements, {len(labels) - malignant} benign / {malignant} malignant. Stratified "
        f"split with seed {metrics['split_seed']}: {metrics['n_train']} training rows "
        f"({train_malignant} malignant) and {metrics['n_test']} held-out rows ({test_malignant} "
        f"malignant); standardisation statistics from the training rows only. Licence: "
        f"BSD-3-Clause, via scikit-learn."
    )


DEFINITION = training.DemoDefinition(
    name="diagnosis",
    organization="demo-clinic",
    ai_system=AI_SYSTEM,
    class_labels=CLASS_LABELS,
    scored_class=SCORED_CLASS,
    favourable_class=FAVOURABLE_CLASS,
    settings=TRAINING,
    load_rows=load_diagnosis_rows,
    build_schema=build_diagnosis_schema,
    describe_training_data=describe_training_data,
    external_id_prefix="dx-2026-",
    subject_prefix="patient",
    first_decided_at="2026-11-20T09:00:00Z",
)
