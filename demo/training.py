"""Deterministic training shared by the demo models.

A demo data set is a list of feature rows (``{feature name: value}``) with 0/1 labels, where 1 is
the scored class (the model's sigmoid output is its probability). Training splits the rows with a
fixed seed, builds the feature schema from the training split only (so the standardisation
statistics never see held-out rows), trains ``explain``'s MLP full-batch with Adam, and reports
held-out metrics. Same inputs and settings give byte-identical safetensors weights.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from torch import nn

import explain
from explain import FeatureSchema

ARCHITECTURE = "mlp"
HYPERPARAMETERS: dict[str, Any] = {"hidden": [32, 16]}
TEST_SIZE = 0.25
TRAINING_THREADS = 1
BACKGROUND_ROWS = 50


@dataclass(frozen=True)
class TrainingSettings:
    """Everything besides the data that fixes a training run's outcome."""

    split_seed: int
    torch_seed: int
    epochs: int
    learning_rate: float
    weight_decay: float
    decision_threshold: float = 0.5


@dataclass(frozen=True)
class TrainedDemoModel:
    """A trained model with the schema, weights and held-out evaluation that describe it."""

    schema_data: dict[str, Any]
    schema: FeatureSchema
    model: nn.Module
    weights: bytes
    performance_metrics: dict[str, Any]
    train_indices: list[int]
    test_indices: list[int]
    test_scores: list[float]


@contextmanager
def deterministic_torch(seed: int) -> Iterator[None]:
    """Seed torch, force deterministic kernels and a fixed thread count; restore them after."""
    previous_threads = torch.get_num_threads()
    previous_deterministic = torch.are_deterministic_algorithms_enabled()
    previous_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.set_num_threads(TRAINING_THREADS)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(
            previous_deterministic, warn_only=previous_warn_only
        )
        torch.set_num_threads(previous_threads)


def split_indices(labels: list[int], split_seed: int) -> tuple[list[int], list[int]]:
    """Stratified train/test split of row indices (25 % held out), sorted, fixed by the seed."""
    train, test = train_test_split(
        list(range(len(labels))),
        test_size=TEST_SIZE,
        random_state=split_seed,
        stratify=labels,
    )
    return sorted(train), sorted(test)


def predict_scores(
    model: nn.Module, schema: FeatureSchema, rows: list[dict[str, Any]]
) -> list[float]:
    """Probability of the scored class for each row, computed in float32, as Python floats."""
    return [float(p) for p in explain.predict_proba(model.eval(), schema.encode(rows))]


def training_schema(
    rows: list[dict[str, Any]],
    labels: list[int],
    build_schema: Callable[[list[dict[str, Any]]], dict[str, Any]],
    split_seed: int,
) -> tuple[list[int], list[int], dict[str, Any], FeatureSchema]:
    """The stratified split and the feature schema of its training rows, with the
    reference rows for attributions: the median applicant and a small background
    sample. Every demo model of a data set shares them."""
    train_indices, test_indices = split_indices(labels, split_seed)
    train_rows = [rows[i] for i in train_indices]
    schema_data = build_schema(train_rows)
    schema = explain.parse_feature_schema(schema_data)
    schema_data["baseline"] = explain.baseline_from_rows(schema, train_rows)
    background_rng = random.Random(split_seed)
    schema_data["background"] = background_rng.sample(train_rows, BACKGROUND_ROWS)
    return (
        train_indices,
        test_indices,
        schema_data,
        explain.parse_feature_schema(schema_data),
    )


def train_demo_model(
    rows: list[dict[str, Any]],
    labels: list[int],
    build_schema: Callable[[list[dict[str, Any]]], dict[str, Any]],
    settings: TrainingSettings,
) -> TrainedDemoModel:
    """Train the demo MLP deterministically and evaluate it on the held-out split.

    Args:
        rows: every feature row of the data set, in a fixed order.
        labels: 1 where the row belongs to the scored class, else 0.
        build_schema: makes the JSON feature schema from the training rows (their statistics
            become the schema's preprocessing).
        settings: seeds, epochs and optimiser settings.

    Returns:
        The trained model in eval mode, its schema, safetensors weights, held-out metrics
        (accuracy, ROC AUC, split sizes and seed) and the held-out rows' scores.

    Example:
        >>> trained = train_demo_model(rows, labels, build_credit_schema, CREDIT_TRAINING)
        >>> trained.performance_metrics["roc_auc"]
        0.78...
    """
    train_indices, test_indices, schema_data, schema = training_schema(
        rows, labels, build_schema, settings.split_seed
    )
    train_rows = [rows[i] for i in train_indices]
    test_rows = [rows[i] for i in test_indices]

    with deterministic_torch(settings.torch_seed):
        inputs = schema.encode(train_rows)
        targets = torch.tensor(
            [float(labels[i]) for i in train_indices], dtype=torch.float32
        )
        model = explain.build_model(ARCHITECTURE, schema, dict(HYPERPARAMETERS))
        optimiser = torch.optim.Adam(
            model.parameters(),
            lr=settings.learning_rate,
            weight_decay=settings.weight_decay,
        )
        loss_function = nn.BCEWithLogitsLoss()
        model.train()
        for _ in range(settings.epochs):
            optimiser.zero_grad()
            loss = loss_function(model(inputs), targets)
            loss.backward()
            optimiser.step()
        model.eval()
        test_scores = predict_scores(model, schema, test_rows)
        weights = explain.model_to_safetensors(model)

    test_labels = [labels[i] for i in test_indices]
    predictions = [int(score >= settings.decision_threshold) for score in test_scores]
    metrics = {
        "accuracy": round(float(accuracy_score(test_labels, predictions)), 4),
        "roc_auc": round(float(roc_auc_score(test_labels, test_scores)), 4),
        "n_train": len(train_indices),
        "n_test": len(test_indices),
        "split_seed": settings.split_seed,
    }
    return TrainedDemoModel(
        schema_data=schema_data,
        schema=schema,
        model=model,
        weights=weights,
        performance_metrics=metrics,
        train_indices=train_indices,
        test_indices=test_indices,
        test_scores=test_scores,
    )


def mean_and_std(values: list[float]) -> dict[str, float]:
    """Population mean and standard deviation (exact, order-independent) for standardisation."""
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values)}


@dataclass(frozen=True)
class DemoDefinition:
    """One demo model: its data, schema, training settings and the AI system it belongs to.

    ``load_rows`` returns every feature row and its 0/1 label (1 = ``scored_class``);
    ``build_schema`` turns training rows into the JSON feature schema; ``describe_training_data``
    writes the model version's training data summary from the labels and the trained model.
    """

    name: str
    organization: str
    ai_system: dict[str, str]
    class_labels: tuple[str, str]
    scored_class: str
    favourable_class: str
    settings: TrainingSettings
    load_rows: Callable[[], tuple[list[dict[str, Any]], list[int]]]
    build_schema: Callable[[list[dict[str, Any]]], dict[str, Any]]
    describe_training_data: Callable[[list[int], TrainedDemoModel], str]
    external_id_prefix: str
    subject_prefix: str
    first_decided_at: str
    # submit every row of the data set as a decision (the monitoring demo): the
    # rows that are not samples, spread over the months before the demo runs
    population: bool = False
