"""Anchors are taken by Celery beat (hourly by default) through a thin task."""

from __future__ import annotations

from compliance.models import ChainAnchor
from workers.celery import _beat_schedule, app
from workers.routes import ANCHOR_TASK
from workers.tasks import audit_chains_anchor


def test_beat_anchors_the_chains_every_configured_interval(settings):
    settings.AUDIT_ANCHOR_INTERVAL_SECONDS = 1800
    entry = _beat_schedule()["anchor-audit-chains"]
    assert entry == {"task": ANCHOR_TASK[0], "schedule": 1800.0}
    assert app.conf.task_routes[ANCHOR_TASK[0]] == {"queue": "dossiers"}


def test_the_task_anchors_every_chain(world, settings):
    settings.TSA_URL = None
    assert audit_chains_anchor() == 2  # the two organisations' chains
    assert set(ChainAnchor.objects.values_list("chain", flat=True)) == {
        f"org:{world.org.pk}",
        f"org:{world.other_org.pk}",
    }
