"""Counterfactual explanations: the smallest actionable change that flips an outcome.

Given one decision row, the search looks for a changed row that the model gives the
other outcome, changing only features a person can act on, and verifies the answer by
running the model on the changed row. "No actionable change found" is a valid answer
and comes back as ``counterfactual=None`` with a note saying why.

Which features may change
    Only features with ``immutable == False``, ``protected == False`` and
    ``actionable_direction != "none"``. Immutable and protected features are copied
    unchanged into the changed row.

    * numeric: only larger values for ``"increase"``, only smaller for ``"decrease"``,
      either for ``"any"``; within the declared ``[min, max]``; whole numbers when
      ``integer`` is true. A side with no declared bound is searched up to
      ``UNBOUNDED_SEARCH_SCALES`` scales (see below) from the current value.
    * categorical: another declared category. With ``"increase"`` or ``"decrease"`` the
      declared category order is read as an ordinal scale: only later, respectively
      earlier, categories.
    * binary: flipped; ``"increase"`` allows only false -> true, ``"decrease"`` only
      true -> false. The value keeps its type (``bool`` or ``0``/``1``).

Cost (the distance minimised)
    ``cost = sum(|new - old| / scale  for changed numeric features)
           + 1.0 * (number of changed categorical or binary features)
           + SPARSITY_PENALTY * (number of changed features)``

    where ``scale`` is the feature's standard deviation from
    ``schema.preprocessing[name]["std"]``, else ``(max - min) / 4`` when both bounds
    are declared, else 1. Numeric results are snapped to a resolution of
    ``10 ** (floor(log10(scale)) - 2)`` (at least 1 for integer features), rounded
    away from the original value, so they read as plain numbers.

Search (deterministic, every candidate scored in batched ``torch.no_grad`` passes)
    1. Moves: for each mutable feature, its allowed values - numeric values on a grid of
       distances ``NUMERIC_GRID_SCALES`` (in scales) toward each allowed bound plus the
       bound itself; every allowed category; the flipped binary value.
    2. Every single move is evaluated; moves that flip the outcome are kept.
    3. Beam search over combinations of up to ``max_changes`` features: the
       ``BEAM_WIDTH`` non-flipping states that moved the logit furthest toward the
       other outcome (half by raw progress, half by progress per unit cost) are extended
       by one more feature, using per feature the ``EXTENSION_MOVES_PER_FEATURE`` single
       moves that helped most (chosen the same way); extensions costing more than the
       cheapest flip so far are skipped.
    4. The ``REFINED_CANDIDATES`` cheapest flips are refined: changes that are not needed are dropped, then
       each numeric change is shrunk toward the original value by two rounds of a
       batched line search, keeping the smallest change that still flips.
    5. Verification: the cheapest refined candidate is encoded afresh with
       ``schema.encode`` and run through the model on its own; only a candidate whose
       re-run gives the other outcome is returned (``verified=True``); should it not,
       the next cheapest candidates are tried, ``VERIFICATION_ATTEMPTS`` in all.

Plausibility (when the schema has two or more ``background`` rows, a sample of the
training data)
    A row's distance to the data is the distance to its nearest background row,
    measured like the cost: ``sum(|a - b| / scale for numeric features) + 1 per
    categorical or binary mismatch``. The bound is the ``PLAUSIBILITY_QUANTILE`` (95th
    percentile) of the background rows' own distances to their nearest other
    background row, or the original row's distance when that is larger (a change
    need not make an applicant more typical than they are). A candidate beyond the
    bound never counts as a flip (a hard check, repeated on the verified row), and
    flips are refined and verified in the order of ``cost + PLAUSIBILITY_WEIGHT *
    (distance - original distance, if positive)``; the verified options are then
    ranked by plain cost, which is the ``cost`` reported. Each
    counterfactual reports ``plausibility = {"distance", "bound",
    "original_distance"}``; without a background sample it is ``None`` and no
    check is made.

Batching
    ``counterfactual_search_batch`` runs every row's search in lockstep: each search
    is a generator that yields the encoded candidates of its next step, and one
    forward pass (and one nearest-neighbour computation) scores the requests of all
    rows together. A row's search takes the same steps alone as inside a batch.

The outcome of a row is ``class_labels[1]`` when ``sigmoid(logit) >= threshold``, else
``class_labels[0]``, as for ``predict_proba``. The search stops at
``max_evaluations`` model rows (counting the original row and verification runs) and
says so in the note.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from explain.rng import seeded_rng
from explain.schema import FeatureSchema, FeatureSpec, validate_feature_values

SPARSITY_PENALTY = 0.1
# distances (in scales) tried toward each allowed bound: 0.1 apart up to 2, then
# 0.25 apart up to 4, then 0.5 apart up to 10
NUMERIC_GRID_SCALES = (
    tuple(k / 10 for k in range(1, 21))
    + tuple(2 + k / 4 for k in range(1, 9))
    + tuple(4 + k / 2 for k in range(1, 13))
)
UNBOUNDED_SEARCH_SCALES = 10.0
BEAM_WIDTH = 16
EXTENSION_MOVES_PER_FEATURE = 6
REFINED_CANDIDATES = 4
LINE_SEARCH_POINTS = 32
LINE_SEARCH_ROUNDS = 2
VERIFICATION_ATTEMPTS = 8
MAX_OPTIONS = 3  # the counterfactual and up to two diverse alternatives
DIVERSE_STARTS = 8  # flips refined: the cheapest, then one per other feature set
FORWARD_CHUNK_ROWS = 8192
# plausibility: the bound is this quantile of the background rows' distances to their
# own nearest other background row; the search ranks flips by cost plus this weight
# times how much farther from the data than the original row they end
PLAUSIBILITY_QUANTILE = 0.95
PLAUSIBILITY_WEIGHT = 0.5


@dataclass(frozen=True)
class Counterfactual:
    """A verified change to one decision row that flips the model's outcome.

    ``changes`` maps each changed feature to ``{"from": old, "to": new}`` in the
    user's units and categories; ``cost`` is the distance defined in the module
    docstring; ``evaluations`` counts the model rows run during the search.
    """

    changes: dict[str, dict[str, Any]]
    outcome_before: str
    outcome_after: str
    score_before: float
    score_after: float
    verified: bool
    cost: float
    descriptions: list[str]
    evaluations: int
    margin: float = 0.0
    # {"distance": to the nearest background row, "bound": the most allowed,
    #  "original_distance": the unchanged row's}; None without a background sample
    plausibility: dict[str, float] | None = None
    # further verified options, each changing a different set of features (none a
    # superset of an earlier option's), cheapest first; empty on the alternatives
    alternatives: tuple[Counterfactual, ...] = ()


@dataclass(frozen=True)
class CounterfactualSearchResult:
    """The search's answer: a counterfactual, or ``None`` with a note saying why."""

    counterfactual: Counterfactual | None
    note: str | None


@dataclass(frozen=True)
class _Move:
    """Setting one feature to one new value, with that change's cost."""

    feature_index: int
    value: Any
    cost: float
    # how it is encoded (functions of the above): the input column set to
    # ``encoded``, and for a category change the current category's column cleared
    column: int = field(default=-1, compare=False)
    encoded: float = field(default=0.0, compare=False)
    cleared: int = field(default=-1, compare=False)


_Candidate = tuple[_Move, ...]  # at most one move per feature, sorted by feature index


@dataclass(frozen=True)
class _Scored:
    candidate: _Candidate
    cost: float
    flips: bool  # clears the threshold by the margin and is plausible
    progress: float  # logit movement toward the other outcome
    penalty: float = 0.0  # PLAUSIBILITY_WEIGHT * distance beyond the original row's


class _BudgetExhausted(Exception):
    """Raised inside the search when no evaluations are left."""


def counterfactual_search(
    model: nn.Module,
    schema: FeatureSchema,
    row: dict[str, Any],
    *,
    class_labels: Sequence[str],
    threshold: float,
    max_changes: int = 3,
    max_evaluations: int = 20000,
    device: torch.device | str = "cpu",
    seed: int = 0,
    margin: float | None = None,
) -> CounterfactualSearchResult:
    """Find the cheapest actionable change to ``row`` that flips the model's outcome.

    Args:
        model: a model of ``explain.models`` (raw encoded rows in, one logit per row
            out for the scored class ``class_labels[1]``), in eval mode, on ``device``.
        schema: the model version's parsed feature schema.
        row: one decision's features, ``{feature name: value}``; must validate.
        class_labels: ``[unscored label, scored label]``, e.g. ``["good", "bad"]``.
        threshold: the decision threshold on ``P(scored class)``.
        max_changes: the most features the counterfactual may change.
        max_evaluations: the most model rows to run, original and verification
            included.
        device: where to run the model.
        margin: how far past the threshold, in probability, the changed row must
            score (``None``: the schema's ``recourse.margin``, 0.05 by default).
        seed: torch is seeded with it (on a forked RNG) while the model runs, so a
            model with randomness still gives reproducible answers; the search itself
            uses no randomness.

    Returns:
        A result with a verified ``Counterfactual``, or ``None`` and a note such as
        "No actionable change of up to 3 features flips the outcome (...)".

    Raises:
        ValueError: the row fails validation or an argument is out of range.

    Example:
        >>> result = counterfactual_search(model, schema, features,
        ...     class_labels=["good", "bad"], threshold=0.5)
        >>> result.counterfactual.descriptions
        ['Decrease Credit amount from 9000 to 6420 DM']
    """
    return counterfactual_search_batch(
        model,
        schema,
        [row],
        class_labels=class_labels,
        threshold=threshold,
        max_changes=max_changes,
        max_evaluations=max_evaluations,
        device=device,
        seed=seed,
        margin=margin,
    )[0]


def counterfactual_search_batch(
    model: nn.Module,
    schema: FeatureSchema,
    rows: list[dict[str, Any]],
    *,
    class_labels: Sequence[str],
    threshold: float,
    max_changes: int = 3,
    max_evaluations: int = 20000,
    device: torch.device | str = "cpu",
    seed: int = 0,
    margin: float | None = None,
) -> list[CounterfactualSearchResult]:
    """Run ``counterfactual_search`` for each row, in order, with the same settings.

    The rows' searches advance in lockstep: at each step every row's candidates go
    through one forward pass together (and one nearest-neighbour computation), so a
    row gets the same answer alone as inside a batch. ``max_evaluations`` is a budget
    per row.

    Args:
        model: as for ``counterfactual_search``.
        schema: the model version's parsed feature schema.
        rows: the decisions' feature rows.
        class_labels, threshold, max_changes, max_evaluations, device, seed: as for
            ``counterfactual_search``.

    Example:
        >>> results = counterfactual_search_batch(model, schema, rows,
        ...     class_labels=["good", "bad"], threshold=0.5)
        >>> [r.counterfactual is not None for r in results]
        [True, False]
    """
    for row in rows:
        _check_arguments(
            schema, row, class_labels, threshold, max_changes, max_evaluations
        )
    margin = schema.recourse_margin if margin is None else margin
    if not (isinstance(margin, (int, float)) and 0 <= margin < 0.5):
        raise ValueError("margin must be a number from 0 to below 0.5.")
    device = torch.device(device)
    reference = PlausibilityReference.from_schema(schema)
    groups = list(schema.column_groups().values())
    searches = [
        _Search(
            schema=schema,
            row=row,
            groups=groups,
            class_labels=list(class_labels),
            threshold=float(threshold),
            max_changes=max_changes,
            max_evaluations=max_evaluations,
            margin=float(margin),
            reference=reference,
        )
        for row in rows
    ]
    with seeded_rng(seed, device):
        return _run_in_lockstep(searches, model, device, reference)


@dataclass(frozen=True)
class PlausibilityReference:
    """How far a row lies from the training data: the distance to its nearest
    neighbour among the schema's background rows, and the most a counterfactual may
    lie from them.

    The distance is ``sum(|a - b| / scale for numeric features)`` (``scale`` as for
    the cost, the MAD where declared) ``+ 1 per categorical or binary mismatch``;
    ``bound`` is the ``PLAUSIBILITY_QUANTILE`` quantile of the background rows'
    distances to their nearest other background row.
    """

    weights: torch.Tensor  # per model input column
    background: torch.Tensor  # the background rows, encoded and weighted
    bound: float
    numeric: torch.Tensor  # the numeric columns' indices
    discrete: torch.Tensor  # the one-hot and binary columns' indices (0/1 values)

    @classmethod
    def from_schema(cls, schema: FeatureSchema) -> PlausibilityReference | None:
        """The reference of a schema with two or more background rows, else None.

        Example:
            >>> PlausibilityReference.from_schema(schema).bound
            12.91
        """
        if len(schema.background) < 2:
            return None
        cached = _REFERENCES.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        weights: list[float] = []
        numeric: list[int] = []
        for spec in schema.features:
            if spec.kind == "numeric":
                numeric.append(len(weights))
                weights.append(1.0 / feature_scale(schema, spec))
            elif spec.kind == "categorical":
                weights.extend([0.5] * spec.width)  # a mismatch differs in 2 columns
            else:
                weights.append(1.0)
        weight = torch.tensor(weights, dtype=torch.float64)
        background = schema.encode(list(schema.background)).double() * weight
        numeric_columns = torch.tensor(numeric, dtype=torch.long)
        discrete = [k for k in range(len(weights)) if k not in set(numeric)]
        reference = cls(
            weights=weight,
            background=background,
            bound=0.0,
            numeric=numeric_columns,
            discrete=torch.tensor(discrete, dtype=torch.long),
        )
        pairwise = reference._pairwise(background)
        pairwise.fill_diagonal_(math.inf)
        nearest = pairwise.min(dim=1).values
        bound = float(torch.quantile(nearest, PLAUSIBILITY_QUANTILE))
        reference = dataclasses.replace(reference, bound=bound)
        if len(_REFERENCES) >= 8:
            _REFERENCES.pop(next(iter(_REFERENCES)))
        _REFERENCES[id(schema)] = (schema, reference)
        return reference

    def distances(self, inputs: torch.Tensor) -> torch.Tensor:
        """Each encoded row's distance to its nearest background row (float64)."""
        return self._pairwise(inputs.double() * self.weights).min(dim=1).values

    def _pairwise(self, weighted: torch.Tensor) -> torch.Tensor:
        """Distances from weighted encoded rows to every background row: an L1
        distance over the few numeric columns, and for the 0/1 columns
        ``sum w |a - b| = sum w a + sum w b - 2 sum w a b`` as one product."""
        background = self.background
        distances = torch.cdist(
            weighted[:, self.numeric], background[:, self.numeric], p=1
        )
        if len(self.discrete):
            rows, others = weighted[:, self.discrete], background[:, self.discrete]
            present = (others > 0).double()  # b in {0, 1}: w a b = (w a) * b
            distances += rows.sum(dim=1, keepdim=True) + others.sum(dim=1)
            distances -= 2.0 * rows @ present.T
        return distances

    def row_distances(
        self, schema: FeatureSchema, rows: list[dict[str, Any]]
    ) -> list[float]:
        """``distances`` for feature rows.

        Example:
            >>> reference.row_distances(schema, [row])
            [9.27]
        """
        return self.distances(schema.encode(rows)).tolist()


# the references of recently used schemas, by id (each kept alive with its schema)
_REFERENCES: dict[int, tuple[FeatureSchema, PlausibilityReference]] = {}

_Request = torch.Tensor  # encoded rows a search wants scored
_Reply = tuple[torch.Tensor, torch.Tensor | None]  # their logits, their distances
_Steps = Generator[_Request, _Reply, "CounterfactualSearchResult"]


def _run_in_lockstep(
    searches: list[_Search],
    model: nn.Module,
    device: torch.device,
    reference: PlausibilityReference | None,
) -> list[CounterfactualSearchResult]:
    """Advance every search to its next request, score all requests in one forward
    pass, hand each search its share, until all have answered."""
    results: list[CounterfactualSearchResult | None] = [None] * len(searches)
    steps: dict[int, _Steps] = {}
    requests: dict[int, _Request] = {}
    for index, search in enumerate(searches):
        steps[index] = search.run()
        try:
            requests[index] = next(steps[index])
        except StopIteration as done:
            results[index] = done.value
    while requests:
        order = list(requests)
        inputs = torch.cat([requests[index] for index in order])
        logits = _forward(model, inputs, device)
        distances = None
        if reference is not None:
            # only rows that clear the margin can become options: the others need
            # no distance (inf, never plausible, never ranked)
            sizes = [requests[index].shape[0] for index in order]
            stops = list(itertools.accumulate(sizes))
            wanted = torch.cat(
                [
                    searches[index].wants_distance(logits[stop - size : stop])
                    for index, stop, size in zip(order, stops, sizes, strict=True)
                ]
            )
            distances = torch.full((inputs.shape[0],), math.inf, dtype=torch.float64)
            if bool(wanted.any()):
                distances[wanted] = reference.distances(inputs[wanted])
        start = 0
        pending: dict[int, _Request] = {}
        for index in order:
            stop = start + requests[index].shape[0]
            reply = (
                logits[start:stop],
                None if distances is None else distances[start:stop],
            )
            start = stop
            try:
                pending[index] = steps[index].send(reply)
            except StopIteration as done:
                results[index] = done.value
        requests = pending
    return [result for result in results if result is not None]


def _forward(
    model: nn.Module, inputs: torch.Tensor, device: torch.device
) -> torch.Tensor:
    """Logits for encoded rows, in chunks, as float32 on the CPU."""
    outputs = []
    with torch.no_grad():
        for start in range(0, inputs.shape[0], FORWARD_CHUNK_ROWS):
            chunk = inputs[start : start + FORWARD_CHUNK_ROWS].to(device)
            outputs.append(model(chunk).reshape(-1).float().cpu())
    return torch.cat(outputs)


def is_actionable(spec: FeatureSpec) -> bool:
    """Whether the search may change this feature.

    Example:
        >>> is_actionable(schema.by_name()["age"])
        False
    """
    return (
        not spec.immutable
        and not spec.protected
        and spec.actionable_direction != "none"
    )


def feature_scale(schema: FeatureSchema, spec: FeatureSpec) -> float:
    """The unit of numeric change cost: the training data's median absolute
    deviation (``observed.mad``) where the schema declares it, else the
    preprocessing std, else (max - min) / 4, else 1.

    Example:
        >>> feature_scale(schema, schema.by_name()["income"])
        1500.0
    """
    if spec.mad is not None and math.isfinite(spec.mad) and spec.mad > 0:
        return float(spec.mad)
    std = schema.preprocessing.get(spec.name, {}).get("std")
    if std is not None and math.isfinite(std) and std > 0:
        return float(std)
    if spec.min is not None and spec.max is not None and spec.max > spec.min:
        return (spec.max - spec.min) / 4.0
    return 1.0


def _check_arguments(
    schema: FeatureSchema,
    row: dict[str, Any],
    class_labels: Sequence[str],
    threshold: float,
    max_changes: int,
    max_evaluations: int,
) -> None:
    if len(class_labels) != 2:
        raise ValueError("class_labels must hold exactly two labels.")
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold)):
        raise ValueError("threshold must be a finite number.")
    if max_changes < 1:
        raise ValueError("max_changes must be at least 1.")
    if max_evaluations < 2:
        raise ValueError("max_evaluations must be at least 2.")
    errors = validate_feature_values(schema, row)
    if errors:
        first_name, messages = next(iter(errors.items()))
        raise ValueError(f"Invalid feature row: {first_name}: {messages[0]}")


class _Search:
    """State of one row's search: the moves, the evaluation budget, the best flips."""

    def __init__(
        self,
        *,
        schema: FeatureSchema,
        row: dict[str, Any],
        groups: list[list[int]],
        class_labels: list[str],
        threshold: float,
        max_changes: int,
        max_evaluations: int,
        margin: float = 0.0,
        reference: PlausibilityReference | None = None,
    ):
        self.margin = margin
        self.schema = schema
        self.row = dict(row)
        self.class_labels = class_labels
        self.threshold = threshold
        self.max_changes = max_changes
        self.max_evaluations = max_evaluations
        self.specs = schema.features
        self.groups = groups
        self.scales = [feature_scale(schema, spec) for spec in self.specs]
        self.intervals: dict[int, tuple[float, float]] = {}
        self.resolutions: dict[int, tuple[float, int]] = {}
        self.reference = reference
        self.distance_before = 0.0  # the original row's, when there is a reference
        self.bound = math.inf  # the farthest a counterfactual may lie from the data
        self.implausible = 0  # candidates that cleared the margin but lay too far
        self.started = False  # whether the original row has been scored
        self.evaluations = 0
        self.exhausted = False
        self.partial: list[_Scored] = []  # what the last, budget-cut batch scored
        self.logit_before = 0.0
        self.scored_before = False
        self.score_before = 0.0
        self.base_inputs = schema.encode([self.row])
        self.mutable = [i for i, spec in enumerate(self.specs) if is_actionable(spec)]

    # -- model runs ---------------------------------------------------------------

    def _forward(
        self, inputs: torch.Tensor
    ) -> Generator[_Request, _Reply, tuple[torch.Tensor, torch.Tensor | None]]:
        """Logits (float32, CPU) and nearest-background distances for encoded rows,
        scored by ``_run_in_lockstep`` together with the other rows' requests."""
        logits, distances = yield inputs
        self.evaluations += inputs.shape[0]
        return logits, distances

    def wants_distance(self, logits: torch.Tensor) -> torch.Tensor:
        """Which of the rows just scored need their distance to the data: the
        original row, then those that clear the threshold by the margin."""
        if not self.started:
            return torch.ones(logits.shape[0], dtype=torch.bool)
        return self._clears(logits)

    def _plausible(self, distances: torch.Tensor | None, count: int) -> torch.Tensor:
        if distances is None:
            return torch.ones(count, dtype=torch.bool)
        return distances <= self.bound + 1e-9

    def _penalties(self, distances: torch.Tensor | None, count: int) -> list[float]:
        if distances is None:
            return [0.0] * count
        beyond = (distances - self.distance_before).clamp(min=0.0)
        beyond = torch.where(torch.isfinite(beyond), beyond, 0.0)
        return (PLAUSIBILITY_WEIGHT * beyond).tolist()

    def _is_scored(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits) >= self.threshold

    def _clears(self, logits: torch.Tensor) -> torch.Tensor:
        """Whether each row has the other outcome by at least ``margin`` in
        probability beyond the threshold."""
        probabilities = torch.sigmoid(logits)
        if self.scored_before:
            return (probabilities < self.threshold) & (
                probabilities <= self.threshold - self.margin
            )
        return (probabilities >= self.threshold) & (
            probabilities >= self.threshold + self.margin
        )

    def _run_single(
        self, row: dict[str, Any]
    ) -> Generator[_Request, _Reply, tuple[float, bool, bool, float | None]]:
        """Score one row encoded afresh: (P(scored class), scored?, clears the
        threshold by the margin and lies within the plausibility bound?, its
        distance to the nearest background row)."""
        logit, distances = yield from self._forward(self.schema.encode([row]))
        distance = None if distances is None else float(distances[0])
        return (
            float(torch.sigmoid(logit)[0]),
            bool(self._is_scored(logit)[0]),
            bool(self._clears(logit)[0] & self._plausible(distances, 1)[0]),
            distance,
        )

    def _reserve(self) -> int:
        return min(VERIFICATION_ATTEMPTS, max(1, self.max_evaluations // 10))

    def _evaluate(
        self, candidates: list[_Candidate]
    ) -> Generator[_Request, _Reply, list[_Scored]]:
        """Score candidates in one request, in the given order, as many as the
        budget allows; a candidate flips when it clears the margin and lies within
        the plausibility bound.

        Raises ``_BudgetExhausted`` (after scoring what fits) when some were left out.
        """
        ordered = list(dict.fromkeys(candidates))
        room = self.max_evaluations - self._reserve() - self.evaluations
        if room < len(ordered):
            self.exhausted = True
            ordered = ordered[: max(0, room)]
        scored: list[_Scored] = []
        if ordered:
            logits, distances = yield from self._forward(self._encode(ordered))
            clears = self._clears(logits)
            plausible = self._plausible(distances, len(ordered))
            self.implausible += int((clears & ~plausible).sum())
            flips = clears & plausible
            penalties = self._penalties(distances, len(ordered))
            direction = -1.0 if self.scored_before else 1.0
            progress = (direction * (logits - self.logit_before)).tolist()
            scored = [
                _Scored(candidate, self._cost(candidate), bool(flip), step, penalty)
                for candidate, flip, step, penalty in zip(
                    ordered, flips.tolist(), progress, penalties, strict=True
                )
            ]
        if self.exhausted:
            self.partial = scored
            raise _BudgetExhausted
        return scored

    def _encode(self, candidates: list[_Candidate]) -> torch.Tensor:
        inputs = self.base_inputs.repeat(len(candidates), 1)
        zero_rows: list[int] = []
        zero_cols: list[int] = []
        set_rows: list[int] = []
        set_cols: list[int] = []
        set_values: list[float] = []
        for row_index, candidate in enumerate(candidates):
            for move in candidate:
                if move.cleared >= 0:
                    zero_rows.append(row_index)
                    zero_cols.append(move.cleared)
                set_rows.append(row_index)
                set_cols.append(move.column)
                set_values.append(move.encoded)
        if zero_rows:
            inputs[zero_rows, zero_cols] = 0.0
        if set_rows:
            inputs[set_rows, set_cols] = torch.tensor(set_values, dtype=inputs.dtype)
        return inputs

    # -- moves and costs ---------------------------------------------------------

    def _cost(self, candidate: _Candidate) -> float:
        return sum(move.cost for move in candidate) + SPARSITY_PENALTY * len(candidate)

    def _numeric_move(self, index: int, value: float) -> _Move | None:
        spec = self.specs[index]
        original = float(self.row[spec.name])
        snapped = self._snap(index, value)
        if snapped is None or float(snapped) == original:
            return None
        cost = abs(float(snapped) - original) / self.scales[index]
        return _Move(index, snapped, cost, self.groups[index][0], float(snapped))

    def _allowed_interval(self, index: int) -> tuple[float, float]:
        """The values a numeric feature may take, given its direction and bounds;
        the bounds are moved inward onto the feature's value grid."""
        if index not in self.intervals:
            self.intervals[index] = self._compute_interval(index)
        return self.intervals[index]

    def _compute_interval(self, index: int) -> tuple[float, float]:
        spec = self.specs[index]
        original = float(self.row[spec.name])
        span = UNBOUNDED_SEARCH_SCALES * self.scales[index]
        low = spec.min if spec.min is not None else original - span
        high = spec.max if spec.max is not None else original + span
        if spec.observed_min is not None and spec.observed_max is not None:
            low, high = max(low, spec.observed_min), min(high, spec.observed_max)
        step, decimals = self._resolution(index)
        low = round(math.ceil(low / step - 1e-9) * step, decimals)
        high = round(math.floor(high / step + 1e-9) * step, decimals)
        if spec.actionable_direction == "increase":
            low = original
        elif spec.actionable_direction == "decrease":
            high = original
        return float(min(low, original)), float(max(high, original))

    def _resolution(self, index: int) -> tuple[float, int]:
        """Step of the value grid for a numeric feature, and its decimal places."""
        if index not in self.resolutions:
            exponent = math.floor(math.log10(self.scales[index])) - 2
            if self.specs[index].integer:
                exponent = max(0, exponent)
            self.resolutions[index] = (10.0**exponent, max(0, -exponent))
        return self.resolutions[index]

    def _snap(self, index: int, value: float) -> int | float | None:
        """Round ``value`` away from the original onto the grid, within the interval."""
        spec = self.specs[index]
        original = float(self.row[spec.name])
        low, high = self._allowed_interval(index)
        step, decimals = self._resolution(index)
        if spec.observed_values:
            return self._snap_to_seen(index, value, original, low, high)
        if value > original:
            snapped = math.ceil(round(value / step, 9)) * step
        elif value < original:
            snapped = math.floor(round(value / step, 9)) * step
        else:
            return None
        snapped = round(min(max(snapped, low), high), decimals)
        if spec.integer:
            return int(round(snapped))
        return float(snapped)

    def _snap_to_seen(
        self, index: int, value: float, original: float, low: float, high: float
    ) -> int | float | None:
        """The nearest value seen in the training data at or beyond ``value``, away
        from the original, within the interval."""
        spec = self.specs[index]
        seen = spec.observed_values
        if value > original:
            k = bisect.bisect_left(seen, value - 1e-9)
            found = seen[k] if k < len(seen) and seen[k] <= high else None
        elif value < original:
            k = bisect.bisect_right(seen, value + 1e-9) - 1
            found = seen[k] if k >= 0 and seen[k] >= low else None
        else:
            return None
        if found is None or found == original:
            return None
        return int(round(found)) if spec.integer else float(found)

    def _moves_for(self, index: int) -> list[_Move]:
        spec = self.specs[index]
        current = self.row[spec.name]
        direction = spec.actionable_direction
        if spec.kind == "numeric":
            original = float(current)
            scale = self.scales[index]
            low, high = self._allowed_interval(index)
            targets: list[float] = []
            for bound, sign in ((high, 1.0), (low, -1.0)):
                reach = abs(bound - original)
                if reach <= 0:
                    continue
                distances = [
                    d * scale for d in NUMERIC_GRID_SCALES if d * scale < reach
                ]
                targets.extend(original + sign * d for d in distances + [reach])
            moves = [self._numeric_move(index, target) for target in targets]
            unique = {move.value: move for move in moves if move is not None}
            return list(unique.values())
        if spec.kind == "categorical":
            position = spec.categories.index(current)
            costs: dict[str, float] | None = None
            if spec.category_changes is not None:
                costs = {t: c for f, t, c in spec.category_changes if f == current}
            allowed = [
                category
                for k, category in enumerate(spec.categories)
                if k != position
                and (direction != "increase" or k > position)
                and (direction != "decrease" or k < position)
                and (costs is None or category in costs)
            ]
            return [
                _Move(
                    index,
                    category,
                    1.0 if costs is None else costs[category],
                    self.groups[index][spec.categories.index(category)],
                    1.0,
                    self.groups[index][position],
                )
                for category in allowed
            ]
        # binary: keep the value's type (bool or 0/1)
        is_true = bool(current)
        if (direction == "increase" and is_true) or (
            direction == "decrease" and not is_true
        ):
            return []
        flipped: Any = (not is_true) if isinstance(current, bool) else int(not is_true)
        return [_Move(index, flipped, 1.0, self.groups[index][0], float(flipped))]

    # -- the search ---------------------------------------------------------------

    def run(self) -> _Steps:
        """The search as a generator: it yields encoded rows to score and is sent
        back their logits and distances; it returns the result."""
        logit, distances = yield from self._forward(self.base_inputs)
        self.started = True
        if distances is not None and self.reference is not None:
            # a change need not make a row more typical than it already is
            self.distance_before = float(distances[0])
            self.bound = max(self.reference.bound, self.distance_before)
        self.logit_before = float(logit[0])
        self.scored_before = bool(self._is_scored(logit)[0])
        self.score_before = float(torch.sigmoid(logit)[0])
        moves = [move for index in self.mutable for move in self._moves_for(index)]
        if not moves:
            return CounterfactualSearchResult(
                None,
                "No actionable change possible: every feature is immutable, "
                "protected, not actionable or already at its allowed limit.",
            )
        flips: list[_Scored] = []
        try:
            yield from self._beam_search(moves, flips)
        except _BudgetExhausted:
            flips.extend(s for s in self.partial if s.flips)
        refined: list[_Scored] = []
        try:
            for start in _diverse_starts(flips):
                refined.append((yield from self._refine(start)))
        except _BudgetExhausted:
            pass
        return (yield from self._verified_result(refined, flips, len(self.mutable)))

    def _beam_search(
        self, moves: list[_Move], flips: list[_Scored]
    ) -> Generator[_Request, _Reply, None]:
        """Singles first, then extend the most promising non-flips one feature at a
        time; every flip found is appended to ``flips``."""
        singles: list[_Candidate] = sorted(
            ((move,) for move in moves), key=lambda c: (self._cost(c), _key(c))
        )
        states: list[_Scored] = []
        for scored in (yield from self._evaluate(singles)):
            (flips if scored.flips else states).append(scored)
        extension_moves = _extension_moves(states)
        for _ in range(2, self.max_changes + 1):
            best_cost = min((s.cost for s in flips), default=math.inf)
            beam = _select_beam(states, BEAM_WIDTH)
            extensions: list[_Candidate] = []
            for state in beam:
                used = {move.feature_index for move in state.candidate}
                for move in extension_moves:
                    if move.feature_index in used:
                        continue
                    if state.cost + move.cost + SPARSITY_PENALTY < best_cost:
                        extensions.append(_sorted_candidate(state.candidate + (move,)))
            if not extensions:
                break
            states = []
            for scored in (yield from self._evaluate(extensions)):
                (flips if scored.flips else states).append(scored)

    def _refine(self, start: _Scored) -> Generator[_Request, _Reply, _Scored]:
        """Drop unneeded changes, then shrink numeric ones toward the original value."""
        current = start
        while len(current.candidate) > 1:
            reduced = [
                current.candidate[:k] + current.candidate[k + 1 :]
                for k in range(len(current.candidate))
            ]
            flipping = [s for s in (yield from self._evaluate(reduced)) if s.flips]
            if not flipping:
                break
            current = min(flipping, key=_rank)
        for feature_index in [m.feature_index for m in current.candidate]:
            if self.specs[feature_index].kind == "numeric":
                current = yield from self._shrink(current, feature_index)
        return current

    def _shrink(
        self, current: _Scored, feature_index: int
    ) -> Generator[_Request, _Reply, _Scored]:
        """Batched line search between the original value and the changed one."""
        spec = self.specs[feature_index]
        original = float(self.row[spec.name])
        others = tuple(m for m in current.candidate if m.feature_index != feature_index)
        position = next(
            m for m in current.candidate if m.feature_index == feature_index
        )
        near, far = original, float(position.value)  # near: not known to flip
        for _ in range(LINE_SEARCH_ROUNDS):
            trial_values = [
                near + (far - near) * k / LINE_SEARCH_POINTS
                for k in range(LINE_SEARCH_POINTS)
            ]
            trials: list[_Candidate] = []
            for value in trial_values:
                move = self._numeric_move(feature_index, value)
                trials.append(
                    _sorted_candidate(others + ((move,) if move is not None else ()))
                )
            trials = [t for t in trials if t]
            if not trials:
                break
            scored = {s.candidate: s for s in (yield from self._evaluate(trials))}
            best_far = far
            for trial in trials:  # closest to the original first
                result = scored.get(trial)
                if result is not None and result.flips:
                    if result.cost + result.penalty < current.cost + current.penalty:
                        current = result
                    best_far = _value_of(trial, feature_index, original)
                    break
                near = _value_of(trial, feature_index, original)
            if (
                best_far == far
                or abs(best_far - near) <= self._resolution(feature_index)[0]
            ):
                break
            far = best_far
        return current

    def _verified_result(
        self, refined: list[_Scored], flips: list[_Scored], searched_features: int
    ) -> Generator[_Request, _Reply, CounterfactualSearchResult]:
        seen: set[_Candidate] = set()
        ordered: list[_Scored] = []
        for scored in sorted(refined + flips, key=_rank):
            if scored.candidate not in seen:
                seen.add(scored.candidate)
                ordered.append(scored)
        options: list[tuple[_Scored, float, bool, float | None]] = []
        chosen_sets: list[frozenset[int]] = []
        attempts = 0
        for scored in ordered:
            if len(options) >= MAX_OPTIONS or attempts >= VERIFICATION_ATTEMPTS:
                break
            changed = frozenset(m.feature_index for m in scored.candidate)
            if any(changed >= earlier for earlier in chosen_sets):
                continue  # the same features again, or more: not a new option
            if self.evaluations >= self.max_evaluations:
                break
            changed_row = self._changed_row(scored.candidate)
            if validate_feature_values(self.schema, changed_row):
                continue
            attempts += 1
            score_after, scored_after, clears, distance = yield from self._run_single(
                changed_row
            )
            if not clears:
                continue
            options.append((scored, score_after, scored_after, distance))
            chosen_sets.append(changed)
        if options:
            options = _by_cost(options)
            note = None
            if self.exhausted:
                note = (
                    f"The search stopped at the evaluation budget "
                    f"({self.max_evaluations} evaluations); a smaller change may exist."
                )
            first, *others = [self._counterfactual(*option) for option in options]
            return CounterfactualSearchResult(
                dataclasses.replace(first, alternatives=tuple(others)), note
            )
        features = _plural(searched_features, "actionable feature")
        if self.exhausted:
            note = (
                f"No actionable change found within budget ({features}, "
                f"{self.evaluations} evaluations of at most {self.max_evaluations})."
            )
        elif ordered:
            note = (
                "Candidate changes found by the search did not flip the outcome when "
                f"re-run on their own ({features}, {self.evaluations} evaluations)."
            )
        else:
            note = (
                f"No actionable change of up to "
                f"{_plural(self.max_changes, 'feature')} flips the outcome"
                + (
                    f" by the margin of {format_number(self.margin)}"
                    if self.margin
                    else ""
                )
                + (
                    f" within {format_number(round(self.bound, 2))} of the training "
                    f"data ({_plural(self.implausible, 'farther change')} refused)"
                    if self.implausible
                    else ""
                )
                + f" (searched {features}, {self.evaluations} evaluations)."
            )
        return CounterfactualSearchResult(None, note)

    def _changed_row(self, candidate: _Candidate) -> dict[str, Any]:
        changed = dict(self.row)
        for move in candidate:
            changed[self.specs[move.feature_index].name] = move.value
        return changed

    def _counterfactual(
        self,
        scored: _Scored,
        score_after: float,
        scored_after: bool,
        distance: float | None,
    ) -> Counterfactual:
        changes: dict[str, dict[str, Any]] = {}
        descriptions: list[str] = []
        for move in scored.candidate:
            spec = self.specs[move.feature_index]
            before = self.row[spec.name]
            changes[spec.name] = {"from": before, "to": move.value}
            descriptions.append(describe_change(spec, before, move.value))
        return Counterfactual(
            changes=changes,
            outcome_before=self.class_labels[int(self.scored_before)],
            outcome_after=self.class_labels[int(scored_after)],
            score_before=self.score_before,
            score_after=score_after,
            verified=scored_after != self.scored_before,
            cost=round(scored.cost, 6),
            descriptions=descriptions,
            evaluations=self.evaluations,
            margin=self.margin,
            plausibility=None
            if distance is None
            else {
                "distance": round(distance, 6),
                "bound": round(self.bound, 6),
                "original_distance": round(self.distance_before, 6),
            },
        )


def describe_change(spec: FeatureSpec, before: Any, after: Any) -> str:
    """One sentence for one changed feature, in the user's units and categories.

    Example:
        >>> describe_change(duration_spec, 48, 24)
        'Decrease Duration in months from 48 to 24 months'
    """
    if spec.kind == "numeric":
        verb = "Increase" if float(after) > float(before) else "Decrease"
        unit = f" {spec.unit}" if spec.unit else ""
        return (
            f"{verb} {spec.label} from {format_number(before)} to "
            f"{format_number(after)}{unit}"
        )
    if spec.kind == "binary":
        before, after = _yes_no(before), _yes_no(after)
    return f"Change {spec.label} from '{before}' to '{after}'"


def format_number(value: float) -> str:
    """A number as people write it: whole numbers without decimals, others to about
    six significant digits, never in scientific notation.

    Example:
        >>> format_number(24.0), format_number(0.1 + 0.2), format_number(3127.456)
        ('24', '0.3', '3127.46')
    """
    number = float(value)
    if number.is_integer():
        return str(int(number))
    digits_before_point = math.floor(math.log10(abs(number))) + 1
    decimals = min(15, max(0, 6 - digits_before_point))
    text = f"{number:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _yes_no(value: Any) -> str:
    return "yes" if bool(value) else "no"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _key(candidate: _Candidate) -> tuple[tuple[int, str], ...]:
    return tuple((move.feature_index, repr(move.value)) for move in candidate)


def _rank(scored: _Scored) -> tuple[float, int, tuple[tuple[int, str], ...]]:
    return (
        scored.cost + scored.penalty,
        len(scored.candidate),
        _key(scored.candidate),
    )


def _by_cost(
    options: list[tuple[_Scored, float, bool, float | None]],
) -> list[tuple[_Scored, float, bool, float | None]]:
    """Verified options (chosen by cost plus plausibility penalty) ranked by plain
    cost, dropping any that changes a superset of a cheaper one's features."""
    ranked: list[tuple[_Scored, float, bool, float | None]] = []
    for option in sorted(
        options, key=lambda o: (o[0].cost, len(o[0].candidate), _key(o[0].candidate))
    ):
        changed = {m.feature_index for m in option[0].candidate}
        if not any(
            changed >= {m.feature_index for m in kept[0].candidate} for kept in ranked
        ):
            ranked.append(option)
    return ranked


def _sorted_candidate(moves: Iterable[_Move]) -> _Candidate:
    return tuple(sorted(moves, key=lambda move: move.feature_index))


def _value_of(candidate: _Candidate, feature_index: int, original: float) -> float:
    for move in candidate:
        if move.feature_index == feature_index:
            return float(move.value)
    return original


def _diverse_starts(flips: list[_Scored]) -> list[_Scored]:
    """The flips worth refining: the ``REFINED_CANDIDATES`` cheapest, then the
    cheapest of each further set of changed features, ``DIVERSE_STARTS`` in all."""
    ranked = sorted(flips, key=_rank)
    starts = ranked[:REFINED_CANDIDATES]
    sets = {frozenset(m.feature_index for m in s.candidate) for s in starts}
    for scored in ranked[REFINED_CANDIDATES:]:
        if len(starts) >= DIVERSE_STARTS:
            break
        features = frozenset(m.feature_index for m in scored.candidate)
        if features not in sets:
            sets.add(features)
            starts.append(scored)
    return starts


def _extension_moves(singles: list[_Scored]) -> list[_Move]:
    """The single moves worth combining: those that moved the logit toward the other
    outcome, per feature the ``EXTENSION_MOVES_PER_FEATURE`` best (half by progress,
    half by progress per unit cost), most efficient first."""
    by_feature: dict[int, list[_Scored]] = {}
    for scored in singles:
        if scored.progress > 0:
            by_feature.setdefault(scored.candidate[0].feature_index, []).append(scored)
    chosen: list[_Scored] = []
    for options in by_feature.values():
        chosen.extend(_select_beam(options, EXTENSION_MOVES_PER_FEATURE))
    chosen.sort(key=lambda s: (-s.progress / s.cost, s.cost, _key(s.candidate)))
    return [scored.candidate[0] for scored in chosen]


def _select_beam(states: list[_Scored], width: int) -> list[_Scored]:
    """Half the beam by progress toward the other outcome, half by progress per
    unit cost; ties go to the cheaper, then the earlier candidate."""
    by_progress = sorted(states, key=lambda s: (-s.progress, s.cost, _key(s.candidate)))
    by_efficiency = sorted(
        states, key=lambda s: (-s.progress / s.cost, s.cost, _key(s.candidate))
    )
    chosen: dict[_Candidate, _Scored] = {}
    for scored in by_progress[: width // 2]:
        chosen[scored.candidate] = scored
    for scored in by_efficiency:
        if len(chosen) >= width:
            break
        chosen.setdefault(scored.candidate, scored)
    return list(chosen.values())
