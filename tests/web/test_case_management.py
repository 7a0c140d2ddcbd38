"""Case management on the queue (issue 17, item 5): search, sortable columns, the
outcome filter as the models' labels, assignment (self, by an admin, in bulk; refused
for auditors, client systems and other organisations; audited), "my cases", the age
since receipt against each AI system's review SLA, and CSV exports of the queue and
of the audit trail per role."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from compliance import decisions as intake
from compliance.errors import PermissionDenied, ValidationFailed
from compliance.models import AuditEvent, Decision
from compliance.platform.csv_export import csv_cell
from compliance.principals import Operator, Principal
from compliance.registry import services as registry
from compliance.reviews.assignment import case_assign
from tests import factories
from tests.schemas import TINY_BASELINE, TINY_SCHEMA

ROW = re.compile(r'<a href="/cases/(\d+)/">#')


def _browser(user: Any = None) -> Client:
    browser = Client()
    if user is not None:
        browser.force_login(user)
    return browser


def _submit(
    world: Any, mv: Any, *, external_id: str = "", subject_ref: str = ""
) -> Any:
    payload = factories.decision_payload(mv)
    labels = mv.class_labels
    payload["outcome"] = labels[1] if payload["score"] >= 0.5 else labels[0]
    payload["decided_at"] = timezone.now()
    if external_id:
        payload["external_id"] = external_id
    if subject_ref:
        payload["subject_ref"] = subject_ref
    decision, _ = intake.decision_submit(
        principal=Principal(
            organization=world.org, role="client", client_system=world.client_system
        ),
        submission=intake.Submission.from_validated(payload),
    )
    return decision


def _set(decision: Any, **fields: Any) -> Any:
    # test set-up only: shapes rows the services would take many steps to reach
    Decision.objects.filter(pk=decision.pk).update(**fields)
    return Decision.objects.get(pk=decision.pk)


@pytest.fixture
def queue(world: Any) -> SimpleNamespace:
    """Four cases of two AI systems, each with its own outcome, status, age and
    assignee; a second officer."""
    fraud = registry.ai_system_register(
        principal=Principal(organization=world.org, role="admin"),
        name="Fraud screening",
        provider="Acme",
        intended_purpose="Fraud screening of payments",
        blind_first_review=False,
    )
    fraud_mv = registry.model_version_register(
        principal=Principal(organization=world.org, role="admin"),
        ai_system=fraud,
        version="2.0",
        architecture="logistic_regression",
        hyperparameters={},
        feature_schema={**TINY_SCHEMA, "baseline": TINY_BASELINE},
        class_labels=["approve", "refer"],
        favourable_class="approve",
        decision_threshold=0.5,
        weights=factories.tiny_weights(),
    )
    officer2 = factories.make_member(world.org, "officer", "acme-officer-2")
    now = timezone.now()
    a = _set(
        world.decision,
        outcome="bad",
        status="unreviewed",
        received_at=now - timedelta(hours=1),
        assigned_to=world.officer,
    )
    b = _set(
        _submit(world, world.model_version, external_id='=HYPERLINK("http://x")'),
        outcome="good",
        status="needs_review",
        received_at=now - timedelta(hours=80),  # past the platform's 72 h
        assigned_to=world.admin,
    )
    c = _set(
        _submit(world, fraud_mv, subject_ref="+31-subject"),
        outcome="approve",
        status="escalated",
        received_at=now - timedelta(hours=30),
    )
    d = _set(
        _submit(world, fraud_mv),
        outcome="refer",
        status="contested",
        received_at=now - timedelta(hours=10),
        assigned_to=officer2,
    )
    return SimpleNamespace(
        cases=[a, b, c, d], a=a, b=b, c=c, d=d, fraud=fraud, officer2=officer2
    )


def _order(response: Any) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [int(pk) for pk in ROW.findall(response.content.decode())]


STATUS_RANK = {value: i for i, value in enumerate(Decision.Status.values)}
SORT_KEYS = {
    "received": lambda d: d.received_at,
    "age": lambda d: -d.received_at.timestamp(),
    "outcome": lambda d: d.outcome,
    "status": lambda d: STATUS_RANK[d.status],
    "ai_system": lambda d: d.ai_system.name,
    "decided": lambda d: d.decided_at,
}


# --- search ---


@pytest.mark.django_db
def test_officers_find_cases_by_client_reference_or_subject(world, queue):
    browser = _browser(world.officer)
    assert _order(browser.get("/cases/", {"q": queue.b.external_id})) == [queue.b.pk]
    assert _order(browser.get("/cases/", {"q": "+31-subject"})) == [queue.c.pk]
    assert _order(browser.get("/cases/", {"q": world.other_decision.external_id})) == []


# --- sort ---


@pytest.mark.django_db
@pytest.mark.parametrize("column", [*SORT_KEYS, "assignee"])
@pytest.mark.parametrize("descending", [False, True])
def test_the_queue_sorts_by_each_column_both_ways(world, queue, column, descending):
    rows = sorted(queue.cases, key=lambda d: -d.pk)  # ties: the newest id first
    if column == "assignee":
        named = [d for d in rows if d.assigned_to_id]
        named.sort(key=lambda d: d.assigned_to.username, reverse=descending)
        expected = named + [d for d in rows if not d.assigned_to_id]  # nulls last
    else:
        expected = sorted(rows, key=SORT_KEYS[column], reverse=descending)
    sort = f"-{column}" if descending else column
    got = _order(_browser(world.admin).get("/cases/", {"sort": sort}))
    assert got == [d.pk for d in expected]


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["bogus", "-", "--age", "score", "outcome;drop"])
def test_an_unknown_sort_is_a_clear_message_not_an_error(world, queue, sort):
    response = _browser(world.officer).get("/cases/", {"sort": sort})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Sort by one of: decided, received, age, outcome" in page


@pytest.mark.django_db
def test_the_column_headers_link_to_their_sort_and_keep_the_filters(world, queue):
    page = _browser(world.officer).get("/cases/", {"status": "escalated"})
    html = page.content.decode()
    assert 'href="?status=escalated&amp;sort=outcome"' in html
    asc = _browser(world.officer).get("/cases/", {"sort": "outcome"}).content.decode()
    assert 'aria-sort="ascending"' in asc and 'href="?sort=-outcome"' in asc


@pytest.mark.django_db
def test_sorting_by_outcome_never_tells_a_hidden_answer(world, queue):
    """Blind-first: a row whose answer is hidden sorts as no answer."""
    registry.ai_system_update(
        operator=Operator(), ai_system=world.ai_system, blind_first_review=True
    )
    got = _order(_browser(world.officer).get("/cases/", {"sort": "outcome"}))
    # the credit cases (bad, good) are hidden: first, by id, whatever their outcome
    assert got == [queue.b.pk, queue.a.pk, queue.c.pk, queue.d.pk]


# --- outcome filter ---


@pytest.mark.django_db
def test_the_outcome_filter_lists_the_models_labels(world, queue):
    html = _browser(world.officer).get("/cases/").content.decode()
    select = html.split('name="outcome"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([^"]*)"', select) == [
        "",
        "approve",
        "bad",
        "good",
        "refer",
    ]
    chosen = _browser(world.officer).get("/cases/", {"outcome": "refer"})
    assert _order(chosen) == [queue.d.pk]
    assert '<option value="refer" selected>' in chosen.content.decode()


# --- my cases and the assignee filter ---


@pytest.mark.django_db
def test_my_cases_are_the_ones_assigned_to_me(world, queue):
    officer = _browser(world.officer)
    assert _order(officer.get("/cases/", {"assignee": "me"})) == [queue.a.pk]
    assert "My cases" in officer.get("/cases/").content.decode()
    assert _order(_browser(queue.officer2).get("/cases/", {"assignee": "me"})) == [
        queue.d.pk
    ]
    assert _order(officer.get("/cases/", {"assignee": "none"})) == [queue.c.pk]
    by_id = officer.get("/cases/", {"assignee": str(world.admin.pk)})
    assert _order(by_id) == [queue.b.pk]
    # an auditor is never assigned: "me" finds nothing, and no link offers it
    auditor = _browser(world.auditor)
    assert _order(auditor.get("/cases/", {"assignee": "me"})) == []
    assert "My cases" not in auditor.get("/cases/").content.decode()


# --- age and the review SLA per AI system ---


def _past_sla_rows(response: Any) -> set[int]:
    html = response.content.decode()
    rows = re.findall(
        r"<tr( class=\"past-sla\")?>\s*(?:<td>.*?</td>\s*)?<td><a href=\"/cases/(\d+)/\"",
        html,
        re.S,
    )
    return {int(pk) for marked, pk in rows if marked}


@pytest.mark.django_db
def test_cases_past_their_ai_systems_sla_are_marked(world, queue):
    # the platform's 72 h: only the 80-hour-old case
    assert _past_sla_rows(_browser(world.officer).get("/cases/")) == {queue.b.pk}
    # the fraud system's own 24 h: its 30-hour-old case too, not its 10-hour-old one
    registry.ai_system_update(
        operator=Operator(), ai_system=queue.fraud, review_sla_hours=24
    )
    response = _browser(world.officer).get("/cases/")
    assert _past_sla_rows(response) == {queue.b.pk, queue.c.pk}
    assert "past SLA" in response.content.decode()
    # a final case is no longer waiting
    _set(queue.b, status="final")
    assert _past_sla_rows(_browser(world.officer).get("/cases/")) == {queue.c.pk}
    # the age shows beside each case, and the case page says it too
    assert "30 h" in response.content.decode()
    detail = _browser(world.officer).get(f"/cases/{queue.c.pk}/").content.decode()
    assert "past the 24 h review SLA" in detail


@pytest.mark.django_db
@pytest.mark.parametrize("value", [0, -1, 24 * 367, True, 1.5, "12"])
def test_an_ai_systems_sla_is_whole_hours_up_to_a_year(world, value):
    with pytest.raises(ValidationFailed) as refused:
        registry.ai_system_update(
            operator=Operator(), ai_system=world.ai_system, review_sla_hours=value
        )
    (message,) = refused.value.errors["review_sla_hours"]
    assert message.startswith("Must be a whole number of hours from 1 to 8784")


@pytest.mark.django_db
def test_setting_an_sla_is_audited_with_old_and_new_values(world):
    registry.ai_system_update(
        operator=Operator(), ai_system=world.ai_system, review_sla_hours=48
    )
    event = AuditEvent.objects.filter(action="ai_system.updated").latest("id")
    assert event.payload == {
        "old": {"review_sla_hours": None},
        "new": {"review_sla_hours": 48},
    }
    world.ai_system.refresh_from_db()
    assert world.ai_system.review_sla == 48
    registry.ai_system_update(
        operator=Operator(), ai_system=world.ai_system, review_sla_hours=None
    )
    world.ai_system.refresh_from_db()
    assert world.ai_system.review_sla == 72


# --- assignment, one case ---


def _assigned(decision: Any) -> Any:
    return Decision.objects.get(pk=decision.pk).assigned_to_id


@pytest.mark.django_db
def test_an_officer_takes_a_case_and_gives_it_up_audited(world, queue):
    officer = _browser(world.officer)
    response = officer.post(f"/cases/{queue.c.pk}/assign", {"assignee": "me"})
    assert response.status_code == 302
    assert _assigned(queue.c) == world.officer.pk
    event = AuditEvent.objects.filter(action="case.assigned").latest("id")
    assert (event.object_type, event.object_id) == ("decision", str(queue.c.pk))
    assert event.payload == {"assignee": world.officer.pk, "previous": None}
    assert event.actor.startswith(f"user:{world.officer.pk}:")
    officer.post(f"/cases/{queue.c.pk}/assign", {"assignee": ""})
    assert _assigned(queue.c) is None
    assert AuditEvent.objects.filter(action="case.unassigned").latest("id").payload == {
        "assignee": None,
        "previous": world.officer.pk,
    }
    # taking it twice changes nothing and writes nothing
    officer.post(f"/cases/{queue.c.pk}/assign", {"assignee": "me"})
    before = AuditEvent.objects.count()
    officer.post(f"/cases/{queue.c.pk}/assign", {"assignee": "me"})
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_an_officer_cannot_give_cases_to_others_or_take_them_from_others(world, queue):
    officer = _browser(world.officer)
    before = AuditEvent.objects.count()
    give = officer.post(
        f"/cases/{queue.c.pk}/assign", {"assignee": str(queue.officer2.pk)}
    )
    assert give.status_code == 403 and _assigned(queue.c) is None
    take = officer.post(f"/cases/{queue.d.pk}/assign", {"assignee": ""})
    assert take.status_code == 403 and _assigned(queue.d) == queue.officer2.pk
    grab = officer.post(f"/cases/{queue.d.pk}/assign", {"assignee": "me"})
    assert grab.status_code == 403 and _assigned(queue.d) == queue.officer2.pk
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_an_admin_gives_a_case_to_any_reviewer_of_the_organisation(world, queue):
    admin = _browser(world.admin)
    response = admin.post(
        f"/cases/{queue.c.pk}/assign", {"assignee": str(queue.officer2.pk)}, follow=True
    )
    assert _assigned(queue.c) == queue.officer2.pk
    assert f"assigned to {queue.officer2.username}" in response.content.decode()
    admin.post(f"/cases/{queue.d.pk}/assign", {"assignee": ""})
    assert _assigned(queue.d) is None


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["auditor", "other_org", "unknown", "garbage", "huge"])
def test_only_a_reviewer_of_the_organisation_can_be_given_a_case(world, queue, who):
    value = {
        "auditor": str(world.auditor.pk),
        "other_org": str(world.other_officer.pk),
        "unknown": "999999",
        "garbage": "someone",
        "huge": "9" * 40,
    }[who]
    admin = _browser(world.admin)  # signing in is an audit event
    before = AuditEvent.objects.count()
    response = admin.post(
        f"/cases/{queue.c.pk}/assign", {"assignee": value}, follow=True
    )
    assert response.status_code == 200  # back on the case page, with the reason
    assert "Choose an officer or administrator of your organisation." in (
        response.content.decode()
    )
    assert _assigned(queue.c) is None
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_the_service_refuses_auditors_and_client_systems(world, queue):
    for principal in (
        Principal(organization=world.org, role="auditor", user=world.auditor),
        Principal(
            organization=world.org, role="client", client_system=world.client_system
        ),
    ):
        with pytest.raises(PermissionDenied):
            case_assign(principal=principal, decision=queue.c, assignee=world.officer)
    assert _assigned(queue.c) is None


@pytest.mark.django_db
def test_a_training_drill_keeps_its_rota(world, queue):
    from compliance.reviews.drills import drill_create

    registry.ai_system_update(
        operator=Operator(), ai_system=world.ai_system, drill_rate=0.5
    )
    world.decision.refresh_from_db()
    drill = drill_create(
        principal=Principal(organization=world.org, role="admin", user=world.admin),
        source=Decision.objects.get(pk=queue.a.pk),
        correct_outcome="good",
    )
    response = _browser(world.admin).post(
        f"/cases/{drill.decision_id}/assign",
        {"assignee": str(world.officer.pk)},
        follow=True,
    )
    assert "assignment cannot be changed" in response.content.decode()
    drill.refresh_from_db()
    assert drill.assigned_to_id is None and _assigned(drill.decision) is None


# --- bulk assignment ---


@pytest.mark.django_db
def test_an_admin_assigns_many_cases_at_once(world, queue):
    ids = [queue.a.pk, queue.b.pk, queue.c.pk]
    response = _browser(world.admin).post(
        "/cases/assign",
        {"cases": ids, "assignee": str(queue.officer2.pk), "query": "status=&sort=age"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/cases/?status=&sort=age"
    assert {_assigned(Decision(pk=pk)) for pk in ids} == {queue.officer2.pk}
    events = AuditEvent.objects.filter(action="case.assigned").order_by("id")
    assert sorted(int(e.object_id) for e in events) == sorted(ids)


@pytest.mark.django_db
def test_an_officer_bulk_assigns_only_to_themselves(world, queue):
    officer = _browser(world.officer)
    officer.post("/cases/assign", {"cases": [queue.c.pk], "assignee": "me"})
    assert _assigned(queue.c) == world.officer.pk
    before = AuditEvent.objects.count()
    refused = officer.post(
        "/cases/assign",
        {"cases": [queue.c.pk], "assignee": str(queue.officer2.pk)},
    )
    assert refused.status_code == 403
    # one case that is someone else's refuses the whole batch
    refused = officer.post(
        "/cases/assign", {"cases": [queue.a.pk, queue.d.pk], "assignee": ""}
    )
    assert refused.status_code == 403
    assert _assigned(queue.a) == world.officer.pk
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_bulk_assignment_refuses_other_organisations_cases_and_needs_csrf(world, queue):
    admin = _browser(world.admin)  # signing in is an audit event
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(world.admin)
    before = AuditEvent.objects.count()
    response = admin.post(
        "/cases/assign",
        {"cases": [queue.c.pk, world.other_decision.pk], "assignee": "me"},
        follow=True,
    )
    assert "not in your queue" in response.content.decode()
    assert _assigned(queue.c) is None
    assert checked.post("/cases/assign", {"cases": [queue.c.pk]}).status_code == 403
    assert AuditEvent.objects.count() == before
    nothing = admin.post("/cases/assign", {"assignee": "me"}, follow=True)
    assert "Select at least one case." in nothing.content.decode()


@pytest.mark.django_db
def test_the_queue_offers_bulk_assignment_to_reviewers_only(world, queue):
    admin = _browser(world.admin).get("/cases/").content.decode()
    assert 'id="bulk-assign"' in admin and 'form="bulk-assign"' in admin
    assert f'<option value="{queue.officer2.pk}"' in admin.split('id="bulk-assign"')[1]
    officer = _browser(world.officer).get("/cases/").content.decode()
    bulk = officer.split('id="bulk-assign"')[1].split("</form>")[0]
    assert '<option value="me">' in bulk
    assert f'<option value="{queue.officer2.pk}"' not in bulk
    assert (
        'id="bulk-assign"'
        not in _browser(world.auditor).get("/cases/").content.decode()
    )


# --- CSV exports ---


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["officer", "auditor", "admin"])
def test_people_export_the_filtered_sorted_queue_audited(
    world, queue, persona, monkeypatch
):
    monkeypatch.setattr("compliance.web.cases.PAGE_SIZE", 2)  # all rows, not a page
    browser = _browser(getattr(world, persona))
    rows = _csv(browser.get("/cases/", {"format": "csv", "sort": "received"}))
    assert [int(r["id"]) for r in rows] == [
        queue.b.pk,
        queue.c.pk,
        queue.d.pk,
        queue.a.pk,
    ]
    assert world.other_decision.external_id not in {r["external_id"] for r in rows}
    by_id = {int(r["id"]): r for r in rows}
    assert by_id[queue.b.pk]["past_sla"] == "yes"
    assert by_id[queue.a.pk]["assignee"] == "acme-officer"
    assert by_id[queue.d.pk]["outcome"] == "refer"
    # filters apply
    refer = _csv(browser.get("/cases/", {"format": "csv", "outcome": "refer"}))
    assert [int(r["id"]) for r in refer] == [queue.d.pk]
    event = AuditEvent.objects.filter(action="cases.exported").latest("id")
    assert event.payload == {
        "filters": {"outcome": "refer"},
        "search": False,
        "rows": 1,
    }
    assert event.actor.startswith(f"user:{getattr(world, persona).pk}:")


@pytest.mark.django_db
def test_exported_cells_never_start_a_formula(world, queue):
    rows = _csv(_browser(world.officer).get("/cases/", {"format": "csv"}))
    by_id = {int(r["id"]): r for r in rows}
    assert by_id[queue.b.pk]["external_id"] == '\'=HYPERLINK("http://x")'
    assert by_id[queue.c.pk]["subject_ref"] == "'+31-subject"
    for value in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(value) == "'" + value
    assert csv_cell("plain") == "plain" and csv_cell(0.5) == 0.5
    assert csv_cell(None) == ""


@pytest.mark.django_db
def test_the_export_hides_what_blind_first_review_hides(world, queue):
    registry.ai_system_update(
        operator=Operator(), ai_system=world.ai_system, blind_first_review=True
    )
    officer = _csv(_browser(world.officer).get("/cases/", {"format": "csv"}))
    hidden = {int(r["id"]): r for r in officer}[queue.b.pk]
    assert (hidden["outcome"], hidden["score"], hidden["output_hidden"]) == (
        "",
        "",
        "yes",
    )
    auditor = _csv(_browser(world.auditor).get("/cases/", {"format": "csv"}))
    assert {int(r["id"]): r for r in auditor}[queue.b.pk]["outcome"] == "good"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["officer", "auditor", "admin"])
def test_people_export_the_filtered_audit_trail_audited(world, queue, persona):
    case_assign(
        principal=Principal(organization=world.org, role="admin", user=world.admin),
        decision=queue.c,
        assignee=world.officer,
    )
    browser = _browser(getattr(world, persona))
    rows = _csv(browser.get("/audit/", {"format": "csv", "action": "case.assigned"}))
    assert [(r["action"], r["object_id"]) for r in rows] == [
        ("case.assigned", str(queue.c.pk))
    ]
    assert rows[0]["payload"] == f'{{"assignee":{world.officer.pk},"previous":null}}'
    assert len(rows[0]["hash"]) == 64
    everything = _csv(browser.get("/audit/", {"format": "csv"}))
    assert {r["action"] for r in everything} >= {"decision.submitted", "case.assigned"}
    own = AuditEvent.objects.filter(organization=world.org)
    assert len(everything) == own.count() - 1  # all but the export's own event
    event = AuditEvent.objects.filter(action="audit.exported").latest("id")
    assert event.payload == {
        "filters": {"action": "", "object_id": ""},
        "rows": len(everything),
    }
    assert world.other_decision.external_id not in "".join(
        r["payload"] for r in everything
    )


# --- who may use each new route ---

ROUTES = [
    ("get", lambda w, q: "/cases/?format=csv", None),
    ("get", lambda w, q: "/cases/?sort=-age", None),
    ("get", lambda w, q: "/audit/?format=csv", None),
    ("post", lambda w, q: f"/cases/{q.c.pk}/assign", lambda q: {"assignee": "me"}),
    (
        "post",
        lambda w, q: "/cases/assign",
        lambda q: {"cases": [q.c.pk], "assignee": "me"},
    ),
]
# anonymous, client system (API key), officer, auditor, admin, other organisation
EXPECTED = [
    {
        "anonymous": 302,
        "client": 302,
        "officer": 200,
        "auditor": 200,
        "admin": 200,
        "other_org": 200,
    },
    {
        "anonymous": 302,
        "client": 302,
        "officer": 200,
        "auditor": 200,
        "admin": 200,
        "other_org": 200,
    },
    {
        "anonymous": 302,
        "client": 302,
        "officer": 200,
        "auditor": 200,
        "admin": 200,
        "other_org": 200,
    },
    {
        "anonymous": 302,
        "client": 302,
        "officer": 302,
        "auditor": 403,
        "admin": 302,
        "other_org": 404,
    },
    {
        "anonymous": 302,
        "client": 302,
        "officer": 302,
        "auditor": 403,
        "admin": 302,
        "other_org": 302,
    },
]


@pytest.mark.django_db
@pytest.mark.parametrize("route", range(len(ROUTES)))
@pytest.mark.parametrize(
    "persona", ["anonymous", "client", "officer", "auditor", "admin", "other_org"]
)
def test_each_new_route_answers_each_role(world, queue, route, persona):
    method, url, body = ROUTES[route]
    user = {
        "officer": world.officer,
        "auditor": world.auditor,
        "admin": world.admin,
        "other_org": world.other_officer,
    }.get(persona)
    browser = _browser(user)
    headers = (
        {"HTTP_AUTHORIZATION": f"Api-Key {world.client_key}"}
        if persona == "client"
        else {}
    )
    data = body(queue) if body is not None else {}
    response = getattr(browser, method)(url(world, queue), data, **headers)
    expected = EXPECTED[route][persona]
    assert response.status_code == expected
    if expected == 302 and persona in ("anonymous", "client"):
        assert response["Location"].startswith("/accounts/login/")
    if persona == "other_org" and method == "post":
        assert _assigned(queue.c) is None  # never another organisation's case


@pytest.mark.django_db
def test_the_monitoring_counts_late_cases_by_the_systems_own_sla(world, queue):
    from compliance.monitoring.oversight import review_queue

    officer = Principal(organization=world.org, role="officer", user=world.officer)
    assert review_queue(principal=officer, ai_system=queue.fraud).over_sla == 0
    registry.ai_system_update(
        operator=Operator(), ai_system=queue.fraud, review_sla_hours=24
    )
    queue.fraud.refresh_from_db()
    state = review_queue(principal=officer, ai_system=queue.fraud)
    assert (state.over_sla, state.sla_hours) == (1, 24)


def test_the_admin_form_takes_an_sla_in_whole_hours():
    from compliance.admin import AISystemForm

    base = {"provider": "Acme", "intended_purpose": "Scoring"}
    assert AISystemForm({**base, "review_sla_hours": "48"}).is_valid()
    blank = AISystemForm({**base, "review_sla_hours": ""})
    assert blank.is_valid() and blank.cleaned_data["review_sla_hours"] is None
    for bad in ("0", "-3", "1.5", "x", str(24 * 367)):
        assert not AISystemForm({**base, "review_sla_hours": bad}).is_valid()
