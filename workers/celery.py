"""The Celery application, configured from Django settings (CELERY_* names).

Queues: ``attributions`` (GPU workers: explanation batches), ``dossiers`` (CPU) and
``sweeper`` (the periodic sweep alone, so a backlog of job messages never delays it; the
worker that runs beat, or any one worker, consumes it).
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery
from kombu import Exchange, Queue

from workers.routes import ALERTS_TASK, ANCHOR_TASK, KIND_TASKS, SWEEP_TASK

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("inspectoscope")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = tuple(
    Queue(name, Exchange(name, type="direct"), routing_key=name)
    for name in ("attributions", "dossiers", SWEEP_TASK[1])
)
app.conf.task_routes = {
    **{task: {"queue": queue} for task, queue in KIND_TASKS.values()},
    SWEEP_TASK[0]: {"queue": SWEEP_TASK[1]},
    ANCHOR_TASK[0]: {"queue": ANCHOR_TASK[1]},
    ALERTS_TASK[0]: {"queue": ALERTS_TASK[1]},
}


def _beat_schedule() -> dict:
    from django.conf import settings

    return {
        "sweep-jobs": {
            "task": SWEEP_TASK[0],
            "schedule": float(settings.SWEEP_INTERVAL_SECONDS),
        },
        "monitoring-alerts": {
            "task": ALERTS_TASK[0],
            "schedule": float(settings.MONITORING_ALERT_INTERVAL_SECONDS),
        },
        "anchor-audit-chains": {
            "task": ANCHOR_TASK[0],
            "schedule": float(settings.AUDIT_ANCHOR_INTERVAL_SECONDS),
        },
    }


@app.on_after_configure.connect
def _configure(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    sender.conf.beat_schedule = _beat_schedule()
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in (
        "data_folder_in",
        "data_folder_out",
        "processed_folder",
        "control_folder",
    ):
        if key in options:
            Path(options[key]).mkdir(parents=True, exist_ok=True)


app.autodiscover_tasks(["workers"], related_name="tasks")
