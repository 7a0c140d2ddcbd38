"""A dossier's size is bounded whatever the decision's history (issue 13 item 2):
repeated audit events are summarised, lifecycle events capped, every printed text
bounded, and the render runs in a child process that is killed after
DOSSIER_RENDER_TIMEOUT_SECONDS, failing the job at once with a true message."""

from __future__ import annotations

import os
import subprocess
import time
from unittest import mock

import pytest
from django.db import transaction

from compliance import dossiers
from compliance.audit import audit_chain_verify, audit_events_append
from compliance.jobs import jobs_process
from compliance.models import AuditEvent, Dossier, Review
from compliance.principals import SYSTEM_OPERATOR
from tests.compliance.dossiers.test_dossiers import _auditor, _case, _text

REAL_POPEN = subprocess.Popen
LIFECYCLE_SHOWN = 40  # compliance/dossiers/extract.py MAX_EVENT_ROWS


def _append(decision, action: str, count: int, **payload) -> None:
    event = {
        "actor": "client:engine",
        "organization": decision.organization,
        "action": action,
        "object_type": "decision",
        "object_id": decision.pk,
        "payload": payload,
    }
    with transaction.atomic():
        audit_events_append([event] * count)


def _flat(dossier: Dossier) -> tuple[str, int]:
    text, pages = _text(bytes(dossier.pdf))
    return " ".join(text.split()), pages


def test_two_thousand_downloads_are_one_summary_row_and_the_extract_is_capped(
    db, demo_artefacts
):
    decision = _case(demo_artefacts, "credit", "EU+US")
    first = dossiers.dossier_issue(decision=decision, principal=SYSTEM_OPERATOR)
    dossiers.dossier_download(dossier=first, principal=_auditor(first))  # the real one
    _append(decision, "dossier.downloaded", 1999, dossier=first.public_id, version=1)
    _append(decision, "dossier.verified", 3, sha256=first.sha256)
    # a long lifecycle too: more individual events than the extract shows
    _append(decision, "dossier.issued", 60, note="bulk")
    events = AuditEvent.objects.filter(
        object_type="decision", object_id=str(decision.pk)
    )
    individual = events.exclude(
        action__in=["dossier.downloaded", "dossier.verified"]
    ).count()  # before the reissue's own event
    second = dossiers.dossier_issue(
        decision=decision, principal=SYSTEM_OPERATOR, reissue_reason="After the flood."
    )
    flat, pages = _flat(second)
    assert pages <= first.pages + 3, (first.pages, pages)  # 40 rows at most
    assert "dossier.downloaded 2000" in flat  # one row: the action and its count
    assert "dossier.verified 3" in flat
    hidden = individual - LIFECYCLE_SHOWN
    assert hidden > 0
    assert f"{hidden} earlier events not shown; the full trail is in the audit log" in (
        flat
    )
    assert f"/audit/?object_id={decision.pk}" in flat
    assert flat.count("dossier.downloaded") == 1
    assert audit_chain_verify().ok


def test_oversized_texts_written_before_the_caps_print_bounded(db, demo_artefacts):
    decision = _case(demo_artefacts, "credit", "EU+US")
    first = dossiers.dossier_issue(decision=decision, principal=SYSTEM_OPERATOR)
    # rows written before the caps existed (or where none applies: the admin)
    Review.objects.filter(decision=decision).update(justification="J" * 150_000)
    decision.ai_system.__class__.objects.filter(pk=decision.ai_system_id).update(
        known_limitations="L" * 120_000
    )
    decision.refresh_from_db()
    started = time.monotonic()
    second = dossiers.dossier_issue(
        decision=decision, principal=SYSTEM_OPERATOR, reissue_reason="Oversized."
    )
    took = time.monotonic() - started
    flat, pages = _flat(second)
    assert pages <= first.pages + 8, (first.pages, pages)
    assert "(truncated, 150,000 characters; full text in the audit trail/API)" in flat
    assert "(truncated, 120,000 characters; full text in the audit trail/API)" in flat
    assert took < 60


def _spy_children():
    """Record every child process the renderer starts."""
    started: list[subprocess.Popen] = []

    def spy(*args, **kwargs):
        child = REAL_POPEN(*args, **kwargs)
        started.append(child)
        return child

    return started, mock.patch("subprocess.Popen", spy)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_render_slower_than_its_timeout_fails_the_job_fast_with_a_true_message(
    db, demo_artefacts, settings
):
    decision = _case(demo_artefacts, "diagnosis", "EU")
    job = dossiers.dossier_request(principal=SYSTEM_OPERATOR, decision=decision)
    settings.DOSSIER_RENDER_TIMEOUT_SECONDS = 0.5  # a real render takes longer
    children, spying = _spy_children()
    started = time.monotonic()
    with spying:
        assert jobs_process(kind="dossier", worker="w1", limit=1) == 1
    took = time.monotonic() - started
    job.refresh_from_db()
    assert job.status == "failed" and job.attempts == 1  # failed, not retried
    assert job.error.startswith(
        "Rendering the dossier took longer than 0.5 s (DOSSIER_RENDER_TIMEOUT_SECONDS)"
        " and was stopped; the content is "
    )
    assert "audit rows" in job.error and "Nothing was issued." in job.error
    event = AuditEvent.objects.get(action="dossier.failed")
    assert event.payload["reason"] == "render_timeout"
    assert len(children) == 1
    child = children[0]
    assert child.returncode is not None and _gone(child.pid)  # killed and reaped
    assert took < 0.5 + 15  # the bound, plus content, claim and store on a busy CI
    assert not Dossier.objects.filter(decision=decision).exists()
    # with time enough, the same content renders
    settings.DOSSIER_RENDER_TIMEOUT_SECONDS = 120
    dossier = dossiers.dossier_issue(decision=decision, principal=SYSTEM_OPERATOR)
    assert bytes(dossier.pdf).startswith(b"%PDF-")


class RuntimeTimeLimit(Exception):
    """Stands in for the worker's own time limit interrupting the wait."""


def test_a_child_is_killed_when_the_wait_is_interrupted(db):
    children, spying = _spy_children()
    with (
        spying,
        mock.patch.object(REAL_POPEN, "communicate", side_effect=RuntimeTimeLimit()),
        pytest.raises(RuntimeTimeLimit),
    ):
        dossiers.render.html_to_pdf("<p>hello</p>")
    assert len(children) == 1 and _gone(children[0].pid)


def test_content_over_the_html_bound_fails_before_rendering(db, demo_artefacts):
    decision = _case(demo_artefacts, "diagnosis", "EU")
    job = dossiers.dossier_request(principal=SYSTEM_OPERATOR, decision=decision)
    children, spying = _spy_children()
    with spying, mock.patch("compliance.dossiers.render.MAX_HTML_CHARS", 1000):
        jobs_process(kind="dossier", worker="w1", limit=1)
    job.refresh_from_db()
    assert job.status == "failed" and "too large to render" in job.error
    assert AuditEvent.objects.get(action="dossier.failed").payload["reason"] == (
        "too_large"
    )
    assert children == []  # nothing was rendered
