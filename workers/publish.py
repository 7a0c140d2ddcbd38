"""How the domain's wake-ups become Celery messages. Registered with
``compliance.jobs`` at start-up (``apps.py``)."""

from __future__ import annotations

from workers.routes import KIND_TASKS


def celery_publish(kind: str, batch_key: str) -> None:
    """Send one wake-up message for ``kind`` (raises when the broker is away)."""
    from workers.celery import app

    task, queue = KIND_TASKS[kind]
    app.send_task(task, kwargs={"batch_key": batch_key}, queue=queue, retry=False)
