"""Bulk intake: many decisions in one request, each answered on its own.

Each item meets the rules of a single submission (validation, score reproduction,
idempotent replay per external_id, audit event, explanation on receipt), but the work is
done per chunk of ``BULK_CHUNK``: one query for the external_ids already stored, one
forward pass per model version to reproduce the scores, one insert, one append to the
audit chain, one transaction. An item that fails is answered with its error and stores
nothing; the chunk's other items are stored. An external_id twice in one request is
stored once (the second answer is its replay, or 409 for another payload). A database
outage mid-way answers 503 for the request; the chunks before it stay stored, and
sending the same request again replays them (200) and stores the rest. A chunk that
meets a concurrent submission of one of its external_ids is stored item by item.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from compliance.audit import audit_events_append
from compliance.decisions.services import (
    _decision_replay,
    decision_row,
    decision_submit,
    submission_validate,
    submitted_event,
)
from compliance.decisions.submission import Submission
from compliance.errors import DomainError, ValidationFailed
from compliance.explanations import explanation_request
from compliance.models import Decision, ModelVersion, MonthlyAggregate
from compliance.platform.text import hostile_text_refuse
from compliance.policy import require
from compliance.principals import Principal
from compliance.registry.loading import scores_reproduce

BULK_MAX = 1000
BULK_CHUNK = 100


@dataclass(frozen=True)
class BulkItem:
    """One answer, in input order: the decision (201 new, 200 replay) or an error
    (400 invalid, 409 external_id reused with another payload, ...)."""

    index: int
    status: int
    decision: Decision | None = None
    code: str = ""
    detail: str = ""
    errors: dict[str, list[str]] | None = None


@dataclass
class _Valid:
    index: int
    submission: Submission
    version: ModelVersion
    sha256: str


def decisions_submit_bulk(
    *, principal: Principal, items: list[Submission | DomainError]
) -> list[BulkItem]:
    """Submit each item (a ``DomainError`` stands for one that failed validation
    before intake); one answer per item, in order."""
    require(principal, "decision.submit")
    if principal.client_system is None:
        raise ValidationFailed("Only client systems submit decisions.")
    answers: dict[int, BulkItem] = {}
    versions: dict[int, ModelVersion | None] = {}
    stored: dict[str, Decision] = {}  # external_id -> decision, across chunks
    for start in range(0, len(items), BULK_CHUNK):
        chunk = list(enumerate(items[start : start + BULK_CHUNK], start=start))
        _chunk_submit(principal, chunk, answers, versions, stored)
    return [answers[index] for index in range(len(items))]


def _version(
    principal: Principal, pk: int, versions: dict[int, ModelVersion | None]
) -> ModelVersion | None:
    if pk not in versions:
        versions[pk] = (
            ModelVersion.objects.select_related("ai_system")
            .filter(pk=pk, ai_system__organization=principal.organization)
            .first()
        )
    return versions[pk]


def _chunk_submit(
    principal: Principal,
    chunk: list[tuple[int, Submission | DomainError]],
    answers: dict[int, BulkItem],
    versions: dict[int, ModelVersion | None],
    stored: dict[str, Decision],
) -> None:
    valid: list[_Valid] = []
    for index, item in chunk:
        if isinstance(item, DomainError):
            answers[index] = _failed(index, item)
            continue
        try:
            hostile_text_refuse(
                {
                    "external_id": item.external_id,
                    "subject_ref": item.subject_ref,
                    "outcome": item.outcome,
                },
                {"features": item.features},
            )
            version = _version(principal, item.model_version, versions)
            if version is None or not version.is_active:
                # unknown or retired: the single path's answers (a replay of a stored
                # decision still answers 200)
                answers[index] = _single(principal, index, item)
                continue
            submission_validate(version, item)
            valid.append(_Valid(index, item, version, item.sha256()))
        except DomainError as exc:
            answers[index] = _failed(index, exc)
    client_system = principal.client_system
    existing = {
        d.external_id: d
        for d in Decision.objects.filter(
            client_system=client_system,
            external_id__in=[v.submission.external_id for v in valid],
        )
    }
    existing.update(stored)
    new: list[_Valid] = []
    first_of: dict[str, _Valid] = {}
    for v in valid:
        external_id = v.submission.external_id
        if external_id in existing:
            answers[v.index] = _replay(v.index, existing[external_id], v.sha256)
        elif external_id in first_of:  # twice in this chunk: settled once stored
            continue
        else:
            first_of[external_id] = v
            new.append(v)
    try:
        created = _store(principal, new)
    except IntegrityError:  # a concurrent submission took one of the external_ids
        for v in new:
            answers[v.index] = _single(principal, v.index, v.submission)
        created = {}
    for v in new:
        if v.index in created:
            decision = created[v.index]
            stored[v.submission.external_id] = decision
            answers[v.index] = BulkItem(v.index, 201, decision)
    for v in valid:  # the later twins, now that the first is stored
        if v.index not in answers:
            first = stored.get(v.submission.external_id)
            if first is None:
                answers[v.index] = _single(principal, v.index, v.submission)
            else:
                answers[v.index] = _replay(v.index, first, v.sha256)


def _store(principal: Principal, new: list[_Valid]) -> dict[int, Decision]:
    """Insert the chunk's new decisions, audit them, ask for their explanations on
    receipt: one transaction."""
    if not new:
        return {}
    by_version: dict[int, list[_Valid]] = defaultdict(list)
    for v in new:
        by_version[v.version.pk].append(v)
    scores: dict[int, float | None] = {}
    for group in by_version.values():
        features = [v.submission.features for v in group]
        reproduced = scores_reproduce(group[0].version, features)
        for v, score in zip(group, reproduced, strict=True):
            scores[v.index] = score
    rows = [
        decision_row(principal, v.version, v.submission, v.sha256, scores[v.index])
        for v in new
    ]
    with transaction.atomic():
        Decision.objects.bulk_create(rows)
        audit_events_append([submitted_event(principal, d) for d in rows])
        for decision, v in zip(rows, new, strict=True):
            ai_system = v.version.ai_system
            if ai_system.explain_on_receipt:
                explanation_request(
                    principal=principal,
                    decision=decision,
                    methods=ai_system.default_explanation_methods or None,
                )
        # bulk_create sends no post_save: drop the touched months' figures here
        MonthlyAggregate.objects.drop(
            {d.ai_system_id for d in rows}, [d.decided_at for d in rows]
        )
    return {v.index: d for v, d in zip(new, rows, strict=True)}


def _single(principal: Principal, index: int, item: Submission) -> BulkItem:
    try:
        with transaction.atomic():
            submitted = decision_submit(principal=principal, submission=item)
    except DomainError as exc:
        return _failed(index, exc)
    return BulkItem(index, 201 if submitted.created else 200, submitted.decision)


def _replay(index: int, decision: Decision, sha256: str) -> BulkItem:
    try:
        return BulkItem(index, 200, _decision_replay(decision, sha256).decision)
    except DomainError as exc:
        return _failed(index, exc)


def _failed(index: int, exc: DomainError) -> BulkItem:
    return BulkItem(
        index,
        exc.status_code,
        code=exc.code,
        detail=exc.detail,
        errors=exc.errors,
    )
