"""Move job payloads into ``Job.payload``, one ExplanationRun per explanation job from its
rows, and rename the stored method id ``shapley_sampling`` to ``kernel_shap``."""

from __future__ import annotations

from django.db import migrations

RUN_FIELDS = (
    "prediction",
    "output_units",
    "counterfactual",
    "counterfactual_note",
    "agreement",
    "warnings",
    "needs_review",
    "needs_review_reasons",
)


def _renamed(methods: list) -> list:
    return ["kernel_shap" if m == "shapley_sampling" else m for m in methods]


def forwards(apps, schema_editor):  # noqa: ANN001, ANN201
    Job = apps.get_model("compliance", "Job")
    Explanation = apps.get_model("compliance", "Explanation")
    ExplanationRun = apps.get_model("compliance", "ExplanationRun")
    AISystem = apps.get_model("compliance", "AISystem")
    for job in Job.objects.all().iterator():
        payload = {}
        if job.kind == "explanation":
            parameters = dict(job.old_parameters or {})
            if "shapley_sampling" in parameters:
                parameters["kernel_shap"] = parameters.pop("shapley_sampling")
            payload = {
                "methods": _renamed(list(job.old_methods or [])),
                "parameters": parameters,
            }
            job.batch_key = f"model_version:{job.old_model_version_id}"
            job.requested_by = ""
        else:
            job.requested_by = str((job.old_parameters or {}).get("actor", ""))[:200]
        job.payload = payload
        job.save(update_fields=["payload", "batch_key", "requested_by"])
    for ai in AISystem.objects.exclude(default_explanation_methods=[]):
        ai.default_explanation_methods = _renamed(list(ai.default_explanation_methods))
        ai.save(update_fields=["default_explanation_methods"])
    Explanation.objects.filter(method="shapley_sampling").update(method="kernel_shap")
    runs: dict[int, int] = {}
    for row in Explanation.objects.order_by("job_id", "id").iterator():
        if row.job_id not in runs:
            run = ExplanationRun.objects.create(
                job_id=row.job_id,
                decision_id=row.decision_id,
                primary_method=row.method,
                output=row.output,
                predicted_outcome="",
                **{name: getattr(row, name) for name in RUN_FIELDS},
            )
            runs[row.job_id] = run.pk
        row.run_id = runs[row.job_id]
        row.save(update_fields=["run"])


class Migration(migrations.Migration):
    dependencies = [("compliance", "0008_one_job_table_and_explanation_runs")]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)
    ]
