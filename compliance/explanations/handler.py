"""The handler of ``explanation`` jobs: run the engine on a batch of one model version,
store each run's decision-level results once and each method's explanation beside it."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import explain
from compliance.jobs import JobDone, JobFailed, Outcome
from compliance.jobs.handlers import AuditEntry, Progress
from compliance.models import (
    AISystem,
    Decision,
    Explanation,
    ExplanationRun,
    Job,
    MonthlyAggregate,
)
from compliance.registry.loading import model_version_load

logger = logging.getLogger(__name__)


class ExplanationHandler:
    kind = Job.Kind.EXPLANATION.value

    def batch_limit(self, requested: int) -> int:
        return requested

    def run(self, jobs: Sequence[Job], progress: Progress) -> list[Outcome]:
        mv = jobs[0].subject_decision.model_version
        try:
            model, schema = model_version_load(mv, device=explain.default_device())
        except (explain.ModelLoadError, explain.SchemaError, OSError) as exc:
            failed = JobFailed(
                "model_load", f"The model version could not be loaded: {exc}"
            )
            return [failed for _ in jobs]
        outcomes: dict[int, Outcome] = {}
        by_request: dict[str, list[Job]] = defaultdict(list)
        for job in jobs:
            by_request[job.request_sha256].append(job)
        groups = list(by_request.values())
        for index, group in enumerate(groups):

            def group_progress(fraction: float, _i: int = index) -> None:
                progress((_i + fraction) / len(groups))

            over_budget = _over_budget(group[0], schema, mv.ai_system)
            if over_budget is not None:
                outcomes.update({j.pk: over_budget for j in group})
                continue
            try:
                results = explain.explain_batch(
                    model,
                    [j.subject_decision.features for j in group],
                    schema=schema,
                    class_labels=mv.class_labels,
                    favourable_class=mv.favourable_class,
                    threshold=mv.decision_threshold,
                    methods=group[0].payload["methods"],
                    parameters=group[0].payload.get("parameters", {}),
                    weights_sha256=mv.weights_sha256,
                    progress=group_progress,
                )
            except explain.ExplainError as exc:
                failed = JobFailed(
                    "engine_error", f"The explanation could not be computed: {exc}"
                )
                outcomes.update({j.pk: failed for j in group})
                continue
            outcomes.update(
                {j.pk: JobDone(r) for j, r in zip(group, results, strict=True)}
            )
        return [outcomes[job.pk] for job in jobs]

    def store(self, done: Sequence[tuple[Job, Any]], *, actor: str) -> list[AuditEntry]:
        runs = ExplanationRun.objects.bulk_create(
            [_run_row(job, result) for job, result in done]
        )
        Explanation.objects.bulk_create(
            [
                _method_row(job, run, method)
                for (job, result), run in zip(done, runs, strict=True)
                for method in result.methods.values()
            ]
        )
        # the monitoring figures of these decisions' months are computed again
        touched = list(
            Decision.objects.filter(pk__in=[job.decision_id for job, _ in done])
            .values_list("ai_system_id", "decided_at")
            .distinct()
        )
        MonthlyAggregate.objects.drop(
            {s for s, _ in touched}, {when for _, when in touched}
        )
        # a failed quality check or a protected attribute's influence sends the
        # decision to a person
        flagged = [
            job.decision_id
            for job, result in done
            if result.needs_review or result.warnings
        ]
        if flagged:
            Decision.objects.filter(
                pk__in=flagged, status=Decision.Status.UNREVIEWED
            ).update(status=Decision.Status.NEEDS_REVIEW)
        return [
            {
                "actor": actor,
                "organization": job.organization,
                "action": "explanation.stored",
                "object_type": "decision",
                "object_id": job.decision_id,
                "payload": {
                    "job": job.pk,
                    "methods": job.methods,
                    "needs_review": result.needs_review,
                    "protected_influence": bool(result.warnings),
                    "input_sha256": next(iter(result.methods.values())).manifest[
                        "input_sha256"
                    ],
                },
            }
            for job, result in done
        ]


def _over_budget(
    job: Job, schema: explain.FeatureSchema, ai_system: AISystem
) -> JobFailed | None:
    """A job queued before its AI system's budget was lowered (or before budgets
    existed) fails instead of running past it."""
    payload = job.payload
    try:
        resolved = explain.resolve_request(
            payload["methods"], payload.get("parameters", {})
        )
        explain.cost_check(
            explain.schema_cost(schema, *resolved), ai_system.explanation_cost_limit
        )
    except explain.CostExceeded as exc:
        return JobFailed("cost_budget", str(exc))
    except explain.ExplainError:
        return None  # the engine names what is wrong with the request
    return None


def _run_row(job: Job, result: explain.RowExplanation) -> ExplanationRun:
    return ExplanationRun(
        job=job,
        decision=job.subject_decision,
        primary_method=result.primary_method,
        prediction=result.prediction,
        output=result.output,
        output_units=result.output_units,
        predicted_outcome=result.predicted_outcome,
        counterfactual=result.counterfactual,
        counterfactual_note=result.counterfactual_note or "",
        agreement=result.agreement,
        warnings=result.warnings,
        needs_review=result.needs_review,
        needs_review_reasons=result.needs_review_reasons,
        reasons_method=result.reasons_method or "",
    )


def _method_row(
    job: Job, run: ExplanationRun, m: explain.MethodExplanation
) -> Explanation:
    return Explanation(
        job=job,
        run=run,
        decision=job.subject_decision,
        method=m.method,
        parameters=m.parameters,
        attributions=m.attributions,
        output=m.output,
        baseline_output=m.baseline_output,
        baseline=m.baseline,
        baseline_kind=m.baseline_kind,
        convergence_delta=m.convergence_delta,
        n_steps=m.n_steps,
        reasons=m.reasons,
        reasons_note=m.reasons_note or "",
        standard_errors=m.standard_errors,
        warnings=m.warnings,
        quality=m.quality,
        manifest=m.manifest,
    )
