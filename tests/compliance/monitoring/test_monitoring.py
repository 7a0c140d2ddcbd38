"""Issue 16: fairness, drift, alerts, drills, the monitoring pages and API, the
oversight report; statistics with known answers; aggregate queries that do not
grow with the decisions."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from compliance.audit.selectors import audit_event_list
from compliance.errors import ValidationFailed
from compliance.models import AISystem, AuditEvent, Decision, MonthlyAggregate, Review
from compliance.monitoring.alerts import alerts_find, alerts_raise
from compliance.monitoring.drift import drift_report
from compliance.monitoring.fairness import fairness_report
from compliance.monitoring.oversight import oversight_by_reviewer_month
from compliance.monitoring.stats import (
    adverse_impact_ratio,
    chi_square_independence,
    population_stability_index,
)
from compliance.principals import Operator, Principal
from compliance.registry.services import ai_system_update
from compliance.reviews import preliminary_view_record, review_record
from compliance.reviews.drills import drill_create, drill_result, drills_assign
from tests import factories
from tests.schemas import TINY_BASELINE, TINY_SCHEMA, VALID_FEATURES

GOOD = "Checked the application file against the model inputs; the outcome stands."


# --- known answers ----------------------------------------------------------------


def test_psi_of_two_known_distributions() -> None:
    # by hand: (0.25-0.5) ln(0.5) + (0.75-0.5) ln(1.5) = 0.17329 + 0.10137
    assert population_stability_index([0.5, 0.5], [0.25, 0.75]) == pytest.approx(
        0.25 * math.log(2) + 0.25 * math.log(1.5), abs=1e-12
    )
    assert population_stability_index([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    # an empty bin is floored, not infinite
    assert math.isfinite(population_stability_index([0.5, 0.5], [1.0, 0.0]))


def test_chi_square_known_answer() -> None:
    # 2x2 table [[10, 20], [30, 40]]: expected 12, 18, 28, 42 -> chi2 = 0.79365,
    # 1 d.f., p = 0.37300 (Pearson, no continuity correction; R chisq.test(correct=F))
    test = chi_square_independence([[10, 20], [30, 40]])
    assert test is not None
    assert test.statistic == pytest.approx(0.793651, abs=1e-6)
    assert test.dof == 1
    assert test.p_value == pytest.approx(0.372998, abs=1e-6)
    # 3x3 with 4 d.f.: chi2 = 10 gives p = 0.040428 (tables)
    from compliance.monitoring.stats import chi_square_sf

    assert chi_square_sf(10.0, 4) == pytest.approx(0.0404277, abs=1e-6)
    assert chi_square_independence([[5, 5]]) is None


def test_adverse_impact_ratio_with_a_hand_computed_bootstrap() -> None:
    # point estimate: (40/100) / (60/100)
    estimate = adverse_impact_ratio(40, 100, 60, 100, resamples=5, seed=7)
    assert estimate.ratio == pytest.approx(2 / 3)
    # the bootstrap by hand: five resamples of each group's favourable count from
    # Binomial(n, p̂) with the same generator, the ratio of each pair, then the
    # 2.5th and 97.5th percentiles with linear interpolation
    rng = np.random.default_rng(7)
    group = [g / 100 for g in rng.binomial(100, 0.4, size=5)]
    reference = [r / 100 for r in rng.binomial(100, 0.6, size=5)]
    ratios = sorted(g / r for g, r in zip(group, reference, strict=True))
    low_position, high_position = 0.025 * 4, 0.975 * 4
    low = ratios[0] + (ratios[1] - ratios[0]) * low_position
    high = ratios[3] + (ratios[4] - ratios[3]) * (high_position - 3)
    assert (estimate.low, estimate.high) == (pytest.approx(low), pytest.approx(high))
    # the same seed, the same interval; a large sample's interval holds the ratio
    again = adverse_impact_ratio(40, 100, 60, 100, resamples=5, seed=7)
    assert (again.low, again.high) == (estimate.low, estimate.high)
    wide = adverse_impact_ratio(400, 1000, 600, 1000)
    assert wide.low < 2 / 3 < wide.high and wide.high - wide.low < 0.15


# --- a small population ------------------------------------------------------------


def _officer(world: Any, user: Any = None) -> Principal:
    return Principal(organization=world.org, role="officer", user=user or world.officer)


def _population(world: Any, n: int, *, young_bad: bool = True) -> list[Decision]:
    """n decisions: the young (age < 30) refused far more often than the others."""
    out = []
    client = Principal(
        organization=world.org, role="client", client_system=world.client_system
    )
    from compliance import decisions as intake

    for i in range(n):
        young = i % 2 == 0
        features = {
            **VALID_FEATURES,
            "age": 22 + (i % 5) if young else 45 + (i % 20),
            "income": 1000.0 + 97 * i,
        }
        payload = factories.decision_payload(world.model_version, features=features)
        refused = young_bad and young and i % 3 != 0
        payload["outcome"] = "bad" if refused else "good"
        payload["score"] = 0.8 if refused else 0.2
        payload["decided_at"] = timezone.now()
        decision, _ = intake.decision_submit(
            principal=client, submission=intake.Submission.from_validated(payload)
        )
        out.append(decision)
    return out


@pytest.mark.django_db
def test_fairness_reports_adverse_impact_for_the_refused_group(
    world: Any, settings: Any
) -> None:
    settings.FAIRNESS_MIN_GROUP = 10
    _population(world, 60)
    report = fairness_report(principal=_officer(world), ai_system=world.ai_system)
    (age,) = report.attributes
    assert age.name == "age"
    groups = {g.group: g for g in age.groups}
    young = next(g for name, g in groups.items() if name.startswith("under"))
    ratio = young.ratios["model"]
    assert ratio.ratio is not None and ratio.ratio < 0.8
    assert ratio.low is not None and ratio.low <= ratio.ratio <= ratio.high
    assert "model" in young.alerts
    # the alert is recorded once, with an audit event
    raised = alerts_raise(
        principal=_officer(world), ai_system=world.ai_system, actor="test"
    )
    assert any(a.kind == "adverse_impact" for a in raised)
    assert (
        alerts_raise(principal=_officer(world), ai_system=world.ai_system, actor="test")
        == []
    )
    assert AuditEvent.objects.filter(action="monitoring.alert").exists()


@pytest.mark.django_db
def test_a_schema_without_protected_attributes_says_so(world: Any) -> None:
    schema = {
        **TINY_SCHEMA,
        "features": [{**f, "protected": False} for f in TINY_SCHEMA["features"]],
        "baseline": TINY_BASELINE,
    }
    world.model_version.feature_schema = schema
    world.model_version.save(update_fields=["feature_schema"])
    report = fairness_report(principal=_officer(world), ai_system=world.ai_system)
    assert report.attributes == [] and "no protected attribute" in report.note


@pytest.mark.django_db
def test_drift_compares_months_with_the_stored_training_distribution(
    world: Any,
) -> None:
    import explain

    rows = [d.features for d in _population(world, 30)]
    schema = explain.parse_feature_schema(world.model_version.feature_schema)
    world.model_version.training_distribution = {
        **explain.training_distribution(schema, rows[:10]),
        "source": "training",
    }
    world.model_version.save(update_fields=["training_distribution"])
    (version,) = drift_report(principal=_officer(world), ai_system=world.ai_system)
    assert version.reference == "training"
    assert version.decisions == [31]  # the world's decision and these
    psi = {f.name: f.psi[0] for f in version.features}
    assert set(psi) >= {"income", "age", "purpose"}
    assert all(p is not None and p >= 0 for p in psi.values())


@pytest.mark.django_db
def test_queries_do_not_grow_with_the_decisions(world: Any) -> None:
    officer = _officer(world)

    def count() -> int:
        MonthlyAggregate.objects.all().delete()
        with CaptureQueriesContext(connection) as queries:
            oversight_by_reviewer_month(principal=officer, ai_system=world.ai_system)
            fairness_report(principal=officer, ai_system=world.ai_system)
            drift_report(principal=officer, ai_system=world.ai_system)
        return len(queries)

    def review_some(decisions: list[Decision]) -> None:
        for d in decisions:
            review_record(
                principal=officer, decision=d, action="uphold", justification=GOOD
            )

    batch = _population(world, 5)
    review_some(batch)
    small = count()
    batch = _population(world, 40)
    review_some(batch)
    assert count() == small
    # kept months: one query per topic and the page's own reads
    with CaptureQueriesContext(connection) as warm:
        oversight_by_reviewer_month(principal=officer, ai_system=world.ai_system)
    assert len(warm) <= 2


@pytest.mark.django_db
def test_a_write_drops_the_kept_month(world: Any) -> None:
    officer = _officer(world)
    before = oversight_by_reviewer_month(principal=officer, ai_system=world.ai_system)
    assert before == []
    assert MonthlyAggregate.objects.filter(ai_system=world.ai_system).exists()
    review_record(
        principal=officer, decision=world.decision, action="uphold", justification=GOOD
    )
    after = oversight_by_reviewer_month(principal=officer, ai_system=world.ai_system)
    assert [(r.reviewer, r.reviews) for r in after] == [("acme-officer", 1)]


@pytest.mark.django_db
def test_review_time_and_rubber_stamping_alerts(world: Any, settings: Any) -> None:
    settings.MONITORING_MIN_REVIEWS = 5
    AISystem.objects.filter(pk=world.ai_system.pk).update(
        blind_first_review=True, four_eyes_overturn=False
    )
    officer = _officer(world)
    for d in _population(world, 6, young_bad=False):
        d.refresh_from_db()
        preliminary_view_record(principal=officer, decision=d, outcome=d.outcome)
        review_record(
            principal=officer,
            decision=d,
            action="uphold",
            justification=GOOD,
            opened_at=timezone.now() - timedelta(seconds=4),
        )
    (row,) = oversight_by_reviewer_month(principal=officer, ai_system=world.ai_system)
    assert row.timed_reviews == 6 and row.median_seconds is not None
    assert row.median_seconds < 20
    kinds = {f.kind for f in alerts_find(principal=officer, ai_system=world.ai_system)}
    assert {"rubber_stamping", "review_time_collapse"} <= kinds


# --- drills --------------------------------------------------------------------------


@pytest.mark.django_db
def test_drills_reach_the_reviewer_and_never_the_statistics_or_clients(
    world: Any,
) -> None:
    admin = Principal(organization=world.org, role="admin", user=world.admin)
    officer = _officer(world)
    with pytest.raises(ValidationFailed):  # drills are opt-in
        drill_create(principal=admin, source=world.decision, correct_outcome="good")
    ai_system_update(operator=Operator(), ai_system=world.ai_system, drill_rate=0.5)
    world.decision.refresh_from_db()
    # the model erred on this case: the known answer is the other outcome
    correct = "bad" if world.decision.outcome == "good" else "good"
    drill = drill_create(
        principal=admin, source=world.decision, correct_outcome=correct, note="x"
    )
    # nothing assigned before the officer reviewed real cases
    assert drills_assign(principal=officer) == 0
    (real,) = _population(world, 1, young_bad=False)
    review_record(principal=officer, decision=real, action="uphold", justification=GOOD)
    assert drills_assign(principal=officer) == 1
    drill.refresh_from_db()
    assert drill.assigned_to == world.officer
    # the reviewer sees an ordinary case until they answer it
    assert drill_result(principal=officer, decision=drill.decision) is None
    browser = Client()
    browser.force_login(world.officer)
    page = browser.get(f"/cases/{drill.decision_id}/").content.decode()
    assert "Training drill" not in page
    review_record(
        principal=officer,
        decision=drill.decision,
        action="overturn",
        justification=GOOD,
    )
    result = drill_result(principal=officer, decision=drill.decision)
    assert result is not None and result.answer == correct and result.correct
    assert (
        "Training drill" in browser.get(f"/cases/{drill.decision_id}/").content.decode()
    )
    # never in the statistics of real decisions
    rows = oversight_by_reviewer_month(principal=officer, ai_system=world.ai_system)
    assert [(r.reviewer, r.reviews, r.overrides) for r in rows] == [
        ("acme-officer", 1, 0)
    ]
    # the drill's source, reviewed by someone else, is not given to them as a drill
    assert drill.source_id == world.decision.pk
    report = fairness_report(principal=officer, ai_system=world.ai_system)
    n = sum(g.counts["n"] for g in report.attributes[0].groups)
    assert (
        n == Decision.objects.filter(ai_system=world.ai_system, is_drill=False).count()
    )
    # never for client systems
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    ids = [d["id"] for d in api.get("/api/v1/decisions/").json()["results"]]
    assert drill.decision_id not in ids
    assert api.get(f"/api/v1/decisions/{drill.decision_id}/").status_code == 404
    # auditors see it marked; the overview's drill table counts it
    auditor = Principal(organization=world.org, role="auditor", user=world.auditor)
    assert drill_result(principal=auditor, decision=drill.decision) is not None
    assert Review.objects.filter(decision=drill.decision).count() == 1


# --- access ---------------------------------------------------------------------------

PAGES = [
    "/monitoring/",
    "/monitoring/oversight/",
    "/monitoring/fairness/",
    "/monitoring/drift/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["officer", "auditor", "admin"])
def test_people_of_the_organisation_see_every_page_and_csv(
    world: Any, role: str
) -> None:
    browser = Client()
    browser.force_login(getattr(world, role))
    for path in PAGES:
        response = browser.get(path)
        assert response.status_code == 200, path
        assert "<svg" in response.content.decode() or path == "/monitoring/"
    csv = browser.get("/monitoring/oversight/?format=csv")
    assert csv["Content-Type"].startswith("text/csv")
    assert csv.content.decode().splitlines()[0].startswith("month,reviewer,reviews")
    for topic in ("oversight", "fairness", "drift"):
        api = browser.get(f"/api/v1/monitoring/{topic}/?ai_system={world.ai_system.pk}")
        assert api.status_code == 200, topic


@pytest.mark.django_db
def test_clients_and_strangers_are_refused(world: Any) -> None:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {world.client_key}")
    for topic in ("oversight", "fairness", "drift"):
        assert (
            api.get(
                f"/api/v1/monitoring/{topic}/?ai_system={world.ai_system.pk}"
            ).status_code
            == 403
        )
    anonymous = Client()
    assert anonymous.get("/monitoring/").status_code == 302
    other = Client()
    other.force_login(world.other_officer)
    # another organisation's AI system is not theirs to name
    bad = other.get(f"/monitoring/fairness/?ai_system={world.ai_system.pk}")
    assert bad.status_code == 400 and b"not one of your AI systems" in bad.content
    api_bad = other.get(f"/api/v1/monitoring/fairness/?ai_system={world.ai_system.pk}")
    assert api_bad.status_code == 400
    assert other.get("/monitoring/drift/?from=soon").status_code == 400
    assert other.get("/api/v1/monitoring/drift/").json()["errors"]["ai_system"]


# --- blind-first default ----------------------------------------------------------------


@pytest.mark.django_db
def test_blind_first_is_on_by_default_for_annex_iii_systems(world: Any) -> None:
    admin = Principal(organization=world.org, role="admin")
    from compliance.registry import services as registry

    annex = registry.ai_system_register(
        principal=admin,
        name="A",
        provider="p",
        intended_purpose="x",
        annex_iii_category="5(b)",
    )
    plain = registry.ai_system_register(
        principal=admin, name="B", provider="p", intended_purpose="x"
    )
    off = registry.ai_system_register(
        principal=admin,
        name="C",
        provider="p",
        intended_purpose="x",
        annex_iii_category="5(b)",
        blind_first_review=False,
    )
    assert annex.blind_first_required and not plain.blind_first_required
    assert not off.blind_first_required
    event = (
        audit_event_list(principal=_officer(world))
        .filter(action="ai_system.registered", object_id=str(annex.pk))
        .first()
    )
    assert event is not None and event.payload["blind_first_required"] is True


@pytest.mark.django_db
def test_the_oversight_report_is_a_pdf_rendered_by_the_job_engine(world: Any) -> None:
    from compliance.jobs import jobs_process
    from compliance.models import Job, OversightReport
    from compliance.monitoring.report import report_request

    review_record(
        principal=_officer(world),
        decision=world.decision,
        action="uphold",
        justification=GOOD,
    )
    job = report_request(
        principal=_officer(world),
        ai_system=world.ai_system,
        month=timezone.now().date(),
    )
    assert jobs_process(kind="report", worker="test", limit=1) == 1
    job.refresh_from_db()
    assert job.status == Job.Status.DONE, job.error
    report = OversightReport.objects.get(pk=job.payload["report"])
    data = report.pdf.open("rb").read()
    assert data.startswith(b"%PDF") and report.pages >= 1
    import hashlib

    assert hashlib.sha256(data).hexdigest() == report.sha256
    browser = Client()
    browser.force_login(world.auditor)
    response = browser.get(f"/monitoring/reports/{report.pk}/pdf")
    assert response.status_code == 200
    assert response["X-Content-SHA256"] == report.sha256
    other = Client()
    other.force_login(world.other_officer)
    assert other.get(f"/monitoring/reports/{report.pk}/pdf").status_code == 404
    assert AuditEvent.objects.filter(action="report.issued").exists()


@pytest.mark.django_db
def test_an_admin_builds_a_drill_from_the_case_page(world: Any) -> None:
    ai_system_update(operator=Operator(), ai_system=world.ai_system, drill_rate=0.1)
    browser = Client()
    browser.force_login(world.admin)
    page = browser.get(f"/cases/{world.decision.pk}/").content.decode()
    assert "Build the drill" in page
    response = browser.post(
        f"/cases/{world.decision.pk}/drill", {"correct_outcome": "maybe"}, follow=True
    )
    assert "Choose one of" in response.content.decode()
    response = browser.post(
        f"/cases/{world.decision.pk}/drill",
        {"correct_outcome": world.decision.outcome, "note": "a clear case"},
        follow=True,
    )
    assert "Training drill #" in response.content.decode()
    assert Decision.objects.filter(is_drill=True).count() == 1
    officer = Client()
    officer.force_login(world.officer)
    assert (
        officer.post(
            f"/cases/{world.decision.pk}/drill", {"correct_outcome": "good"}
        ).status_code
        == 403
    )
