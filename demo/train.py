"""Train the demo models and write their artefacts.

Usage::

    python -m demo.train [--out DIR] [--force]

For each demo ("credit", "diagnosis") writes ``<name>.safetensors`` (the weights) and
``<name>.json``: the organisation, the AI system, the model version (architecture,
hyperparameters, feature schema, class labels, threshold, training data summary, held-out
metrics), the weights' file name and sha256, and twelve held-out sample decisions. A demo whose
two files exist and whose recorded sha256 matches its weights file is left alone unless
``--force`` is given.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import explain
from demo import credit, diagnosis
from demo.training import (
    ARCHITECTURE,
    HYPERPARAMETERS,
    DemoDefinition,
    TrainedDemoModel,
    deterministic_torch,
    predict_scores,
    train_demo_model,
)

DEFAULT_OUT_DIR = Path(".data/demo_models")
MODEL_VERSION = "1.0.0"
DEMOS: dict[str, DemoDefinition] = {
    definition.name: definition
    for definition in (credit.DEFINITION, diagnosis.DEFINITION)
}
# the population decisions (monitoring demo): over the 180 days before the demo runs,
# larger credits later (a drift the monitoring shows); serve.py dates them from now
POPULATION_DAYS = 180
POPULATION_SEED = 20261203
SAMPLE_SIZE = 12
ADVERSE_SAMPLES = 6
FIRST_SAMPLE_NUMBER = 101
MINUTES_BETWEEN_SAMPLES = 7


def pseudonymous_subject_ref(definition: DemoDefinition, row_index: int) -> str:
    """A stable pseudonym for the data subject of a row, e.g. ``"applicant-3f9a0c1e"``."""
    digest = hashlib.sha256(f"{definition.name}:row:{row_index}".encode()).hexdigest()
    return f"{definition.subject_prefix}-{digest[:8]}"


def spread_by_score(candidates: list[tuple[float, int]], count: int) -> list[int]:
    """Up to ``count`` row indices at evenly spaced ranks of score, lowest to highest, so that
    the sample shows clear cases as well as borderline ones."""
    ranked = [index for _, index in sorted(candidates)]
    if len(ranked) <= count:
        return ranked
    if count == 1:
        return [ranked[-1]]
    return [ranked[round(k * (len(ranked) - 1) / (count - 1))] for k in range(count)]


def choose_sample_indices(
    test_indices: list[int], test_scores: list[float], threshold: float
) -> list[int]:
    """Pick twelve held-out rows for the sample decisions: six the model scores adverse and six
    it scores favourable (fewer adverse if the model gives fewer), each spread over the score
    range; returned in data order."""
    scored = list(zip(test_scores, test_indices, strict=True))
    adverse = [(score, index) for score, index in scored if score >= threshold]
    favourable = [(score, index) for score, index in scored if score < threshold]
    chosen_adverse = spread_by_score(adverse, ADVERSE_SAMPLES)
    chosen_favourable = spread_by_score(favourable, SAMPLE_SIZE - len(chosen_adverse))
    return sorted(chosen_adverse + chosen_favourable)


def sample_decisions(
    definition: DemoDefinition, trained: TrainedDemoModel, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Twelve held-out decisions with the trained model's score and outcome for each.

    Scores are recomputed on exactly these rows with ``predict_proba`` (float32), so that
    loading the written weights and scoring the sample's features reproduces them.
    """
    threshold = definition.settings.decision_threshold
    indices = choose_sample_indices(
        trained.test_indices, trained.test_scores, threshold
    )
    features = [dict(rows[i]) for i in indices]
    for values in features:
        errors = explain.validate_feature_values(trained.schema, values)
        if errors:
            raise ValueError(
                f"{definition.name} sample features fail validation: {errors}"
            )
    with deterministic_torch(definition.settings.torch_seed):
        scores = predict_scores(trained.model, trained.schema, features)
    first_time = datetime.fromisoformat(
        definition.first_decided_at.replace("Z", "+00:00")
    )
    favourable = definition.favourable_class
    decisions = []
    samples = zip(indices, features, scores, strict=True)
    for number, (row_index, values, score) in enumerate(samples):
        decided_at = first_time + timedelta(minutes=MINUTES_BETWEEN_SAMPLES * number)
        decisions.append(
            {
                "external_id": f"{definition.external_id_prefix}{FIRST_SAMPLE_NUMBER + number:06d}",
                "subject_ref": pseudonymous_subject_ref(definition, row_index),
                "features": values,
                "score": score,
                "outcome": definition.scored_class
                if score >= threshold
                else favourable,
                "decided_at": decided_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    return decisions


def population_decisions(
    definition: DemoDefinition,
    trained: TrainedDemoModel,
    rows: list[dict[str, Any]],
    labels: list[int],
    sample_indices: set[int],
) -> list[dict[str, Any]]:
    """Every row that is not a sample as a decision with the model's score and
    outcome, ``days_before`` the demo's run (later rows: larger credits, a drift), and
    the row's known outcome (``actual``: the data set's label, for drills; never
    sent)."""
    import random

    threshold = definition.settings.decision_threshold
    indices = [i for i in range(len(rows)) if i not in sample_indices]
    with deterministic_torch(definition.settings.torch_seed):
        scores = predict_scores(
            trained.model, trained.schema, [rows[i] for i in indices]
        )
    rng = random.Random(POPULATION_SEED)
    amount = "credit_amount"
    # the log amount plus noise of about twice its spread: later months lean
    # towards larger credits, gradually (a drift of PSI 0.1 to 0.5, not a new market)
    ranked = sorted(
        range(len(indices)),
        key=lambda k: (
            math.log(max(float(rows[indices[k]].get(amount, 1)), 1.0))
            + rng.gauss(0.0, 1.5)
        ),
    )
    decisions = []
    for position, k in enumerate(ranked):
        i = indices[k]
        # earliest first: the smallest credits get the most days before the run
        days = POPULATION_DAYS * (1 - (position + rng.random()) / len(ranked)) + 0.5
        decisions.append(
            {
                "external_id": f"{definition.external_id_prefix}p{i:05d}",
                "subject_ref": pseudonymous_subject_ref(definition, i),
                "features": dict(rows[i]),
                "score": scores[k],
                "outcome": definition.scored_class
                if scores[k] >= threshold
                else definition.favourable_class,
                "days_before": round(days, 4),
                "actual": definition.scored_class
                if labels[i]
                else definition.favourable_class,
            }
        )
    decisions.sort(key=lambda d: -d["days_before"])
    return decisions


def build_artefacts(definition: DemoDefinition) -> tuple[bytes, dict[str, Any]]:
    """Train one demo model; return its safetensors bytes and its JSON metadata document."""
    rows, labels = definition.load_rows()
    trained = train_demo_model(
        rows, labels, definition.build_schema, definition.settings
    )
    weights_file = f"{definition.name}.safetensors"
    samples = sample_decisions(definition, trained, rows)
    sample_rows = set(
        choose_sample_indices(
            trained.test_indices,
            trained.test_scores,
            definition.settings.decision_threshold,
        )
    )
    document = {
        "organization": definition.organization,
        "ai_system": dict(definition.ai_system),
        "model_version": {
            "version": MODEL_VERSION,
            "architecture": ARCHITECTURE,
            "hyperparameters": dict(HYPERPARAMETERS),
            "feature_schema": trained.schema_data,
            "class_labels": list(definition.class_labels),
            "favourable_class": definition.favourable_class,
            "decision_threshold": definition.settings.decision_threshold,
            "training_data_summary": definition.describe_training_data(labels, trained),
            "performance_metrics": trained.performance_metrics,
            # the reference of drift monitoring: the training split per feature
            "training_distribution": explain.training_distribution(
                trained.schema, [rows[i] for i in trained.train_indices]
            ),
        },
        "weights_file": weights_file,
        "weights_sha256": explain.sha256_hex(trained.weights),
        "sample_decisions": samples,
    }
    if definition.population:
        document["population_decisions"] = population_decisions(
            definition, trained, rows, labels, sample_rows
        )
    return trained.weights, document


def is_up_to_date(out_dir: Path, name: str) -> bool:
    """Whether both files of a demo exist and the JSON's sha256 matches the weights file."""
    weights_path = out_dir / f"{name}.safetensors"
    json_path = out_dir / f"{name}.json"
    if not (weights_path.is_file() and json_path.is_file()):
        return False
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
        recorded = document.get("weights_sha256")
        # written before the monitoring demo: no training distribution
        if "training_distribution" not in document.get("model_version", {}):
            return False
    except (json.JSONDecodeError, AttributeError):
        return False
    return recorded == explain.sha256_hex(weights_path.read_bytes())


def write_demo_models(
    out_dir: Path, *, force: bool = False
) -> dict[str, dict[str, Any]]:
    """Train (unless up to date) and write every demo model; return each one's JSON document.

    Example:
        >>> documents = write_demo_models(Path("/tmp/demo_models"), force=True)
        >>> documents["credit"]["model_version"]["performance_metrics"]["roc_auc"]
        0.8...
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    documents: dict[str, dict[str, Any]] = {}
    for name, definition in DEMOS.items():
        json_path = out_dir / f"{name}.json"
        if not force and is_up_to_date(out_dir, name):
            documents[name] = json.loads(json_path.read_text(encoding="utf-8"))
            print(f"{name}: up to date")
        else:
            started = time.perf_counter()
            weights, document = build_artefacts(definition)
            (out_dir / document["weights_file"]).write_bytes(weights)
            json_path.write_text(
                json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                encoding="utf-8",
            )
            documents[name] = document
            print(f"{name}: trained in {time.perf_counter() - started:.1f} s")
        metrics = documents[name]["model_version"]["performance_metrics"]
        print(f"{name}: {json.dumps(metrics)} -> {json_path}")
    return documents


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point of ``python -m demo.train``."""
    parser = argparse.ArgumentParser(
        description="Train the demo models and write their artefacts."
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help=f"output folder (default {DEFAULT_OUT_DIR})",
    )
    parser.add_argument(
        "--force", action="store_true", help="retrain even when up to date"
    )
    arguments = parser.parse_args(argv)
    write_demo_models(arguments.out, force=arguments.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
