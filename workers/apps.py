from __future__ import annotations

from django.apps import AppConfig


class WorkersConfig(AppConfig):
    """Registers the Celery publisher with the job engine in every process (web and
    worker), so the domain wakes workers without importing Celery or task names."""

    name = "workers"
    verbose_name = "Inspectoscope workers"

    def ready(self) -> None:
        from compliance.jobs import publisher_register
        from workers.publish import celery_publish

        publisher_register(celery_publish)
