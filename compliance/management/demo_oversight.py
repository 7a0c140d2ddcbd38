"""The monitoring demo: six months of human review of the demo bank's credit
decisions by three officers who work differently, so every monitoring chart shows
something real and at least one alert fires.

Only for local demos (``demo_monitoring`` refuses outside DEBUG). The reviews go
through the review services (blind-first views, reviews, four-eyes confirmations,
audit events) and are then dated back into the months of their decisions: the
audit trail records when the simulation ran, the review rows when the simulated
officer worked. Drills are built from refusals whose known outcome (the data set's
label) says the model erred.

- ``demo-bank-officer`` (careful): forms a view from the file (the known outcome,
  right four times in five), overrides when it disagrees with the model, takes 2 to
  8 minutes a case.
- ``demo-bank-officer-quick`` (rubber-stamping): their "blind" view is the model's
  answer, they never override; a minute a case at first, 4 to 9 seconds in the last
  two months.
- ``demo-bank-officer-slow``: careful, 10 to 40 minutes a case, and late: most cases
  wait longer than the SLA.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from compliance.models import (
    AISystem,
    Decision,
    Drill,
    Job,
    MonthlyAggregate,
    PreliminaryView,
    Review,
)
from compliance.models.decisions import ReviewConfirmation
from compliance.monitoring.alerts import alerts_raise
from compliance.monitoring.report import report_request
from compliance.principals import ADMIN, OFFICER, SYSTEM, Operator, Principal
from compliance.registry.services import ai_system_update
from compliance.reviews import preliminary_view_record, review_confirm, review_record
from compliance.reviews.drills import drill_create

SEED = 20261203
OFFICERS = {
    "demo-bank-officer": "careful",
    "demo-bank-officer-quick": "quick",
    "demo-bank-officer-slow": "slow",
}
SHARES = {"careful": 0.4, "quick": 0.4, "slow": 0.2}
DRILL_RATE = 0.05
DRILLS = 8
# the last days stay open: the queue the officers meet
OPEN_DAYS = 10
JUSTIFICATIONS = {
    "uphold": "Checked the application against the file; the model's assessment holds.",
    "overturn": "The file shows repayment capacity the model does not weigh; the outcome changes.",
}


@dataclass
class SimulationReport:
    reviews: int = 0
    overturns: int = 0
    drills: int = 0
    alerts: list[str] = field(default_factory=list)
    report_job: int | None = None
    skipped: str = ""


def _wait(
    time_left: float, pending: Callable[[], int], say: Callable[[str], None]
) -> None:
    import time

    deadline = time.monotonic() + time_left
    while time.monotonic() < deadline:
        left = pending()
        if not left:
            return
        say(f"\r  waiting for {left} explanation jobs ...")
        time.sleep(1)


def simulate(
    *, ai_system: AISystem, actual: dict[str, str], say: Callable[[str], None] = print
) -> SimulationReport:
    """Review the system's decisions as the three officers would have (idempotent:
    does nothing once reviews exist)."""
    out = SimulationReport()
    org = ai_system.organization
    decisions = list(
        Decision.objects.filter(
            ai_system=ai_system, is_drill=False, external_id__in=list(actual)
        ).select_related("model_version")
    )
    if Review.objects.filter(decision__in=decisions).exists():
        out.skipped = "the decisions were reviewed already"
        return out
    _wait(
        600,
        lambda: Job.objects.filter(
            organization=org,
            kind=Job.Kind.EXPLANATION,
            status__in=(Job.Status.QUEUED, Job.Status.RUNNING),
        ).count(),
        say,
    )
    users = {
        u.username: u for u in get_user_model().objects.filter(username__in=OFFICERS)
    }
    principals = {
        name: Principal(organization=org, role=OFFICER, user=users[name])
        for name in OFFICERS
    }
    rng = random.Random(SEED)  # noqa: S311 (a simulation, not a secret)
    now = timezone.now()
    favourable = ai_system.model_versions.first().favourable_class  # type: ignore[union-attr]
    # every refusal is reviewed, and one in five approvals; the last days stay open
    chosen = [
        d
        for d in sorted(decisions, key=lambda d: d.decided_at)
        if d.decided_at < now - timedelta(days=OPEN_DAYS)
        and (d.outcome != favourable or rng.random() < 0.2)
    ]
    last_two_months = now - timedelta(days=60)
    backdate: list[tuple[str, int, dict[str, Any]]] = []
    for n, decision in enumerate(chosen):
        style = rng.choices(list(SHARES), weights=list(SHARES.values()))[0]
        name = next(k for k, v in OFFICERS.items() if v == style)
        principal = principals[name]
        other = next(
            label
            for label in decision.model_version.class_labels
            if label != decision.outcome
        )
        truth = actual[decision.external_id]
        if style == "quick":
            blind = decision.outcome if rng.random() < 0.99 else other
            action = "uphold"
            seconds = (
                rng.uniform(4, 9)
                if decision.decided_at > last_two_months
                else rng.uniform(40, 90)
            )
            delay = timedelta(hours=rng.uniform(1, 20))
        else:
            blind = (
                truth
                if rng.random() < 0.8
                else (other if truth == decision.outcome else decision.outcome)
            )
            # a view that disagrees with the model is held by four in five
            if blind != decision.outcome and rng.random() < 0.8:
                action = "overturn"
            else:
                action = "uphold"
            seconds = (
                rng.uniform(120, 480) if style == "careful" else rng.uniform(600, 2400)
            )
            delay = timedelta(
                hours=rng.uniform(2, 48) if style == "careful" else rng.uniform(30, 200)
            )
        preliminary_view_record(principal=principal, decision=decision, outcome=blind)
        review = review_record(
            principal=principal,
            decision=decision,
            action=action,
            justification=JUSTIFICATIONS[action],
        )
        received = decision.decided_at + timedelta(minutes=2)
        reviewed = min(
            received + delay + timedelta(seconds=seconds), now - timedelta(hours=1)
        )
        opened = reviewed - timedelta(seconds=seconds)
        backdate.append(
            (
                "review",
                review.pk,
                {
                    "created_at": reviewed,
                    "opened_at": opened,
                    "duration_seconds": seconds,
                },
            )
        )
        backdate.append(
            (
                "view",
                decision.pk,
                {
                    "reviewer": users[name],
                    "created_at": opened + timedelta(seconds=min(20, seconds / 3)),
                },
            )
        )
        backdate.append(
            (
                "decision",
                decision.pk,
                {"received_at": received, "finalized_at": reviewed},
            )
        )
        out.reviews += 1
        if action == "overturn":
            out.overturns += 1
            decision.refresh_from_db()
            if decision.status == Decision.Status.REVIEWED:  # four-eyes
                second = (
                    "demo-bank-officer-slow"
                    if name != "demo-bank-officer-slow"
                    else "demo-bank-officer"
                )
                confirmer = principals[second]
                preliminary_view_record(
                    principal=confirmer, decision=decision, outcome=review.human_outcome
                )
                review_confirm(
                    principal=confirmer, decision=decision, note="Second look: agreed."
                )
                backdate.append(
                    (
                        "view",
                        decision.pk,
                        {
                            "reviewer": users[second],
                            "created_at": reviewed + timedelta(minutes=30),
                        },
                    )
                )
                backdate.append(
                    (
                        "confirmation",
                        review.pk,
                        {"created_at": reviewed + timedelta(minutes=40)},
                    )
                )
                backdate.append(
                    (
                        "decision",
                        decision.pk,
                        {
                            "received_at": received,
                            "finalized_at": reviewed + timedelta(minutes=40),
                        },
                    )
                )
        if n % 50 == 0:
            say(f"\r  simulated {n}/{len(chosen)} reviews ...")
    say("\n")
    with transaction.atomic():
        for kind, pk, values in backdate:
            if kind == "review":
                Review.objects.filter(pk=pk).update(**values)
            elif kind == "view":
                PreliminaryView.objects.filter(
                    decision_id=pk, reviewer=values["reviewer"]
                ).update(created_at=values["created_at"])
            elif kind == "confirmation":
                ReviewConfirmation.objects.filter(review_id=pk).update(**values)
            else:
                Decision.objects.filter(pk=pk).update(**values)
        # the unreviewed ones were received when decided too
        for decision in decisions:
            if decision.pk not in {
                pk for kind, pk, _ in backdate if kind == "decision"
            }:
                Decision.objects.filter(pk=decision.pk).update(
                    received_at=decision.decided_at + timedelta(minutes=2)
                )
    # drills against automation bias: refusals the known outcome says were wrong
    operator = Operator(role=SYSTEM, label="demo_monitoring")
    ai_system_update(operator=operator, ai_system=ai_system, drill_rate=DRILL_RATE)
    ai_system.refresh_from_db()
    admin_user = get_user_model().objects.get(username="demo-bank-admin")
    admin = Principal(organization=org, role=ADMIN, user=admin_user)
    reviewed_ids = {pk for kind, pk, _ in backdate if kind == "decision"}
    # refusals the known outcome says were wrong, the unreviewed ones first (a
    # reviewer never gets a drill of a case they reviewed themselves)
    wrong = sorted(
        (
            d
            for d in decisions
            if d.outcome != favourable and actual[d.external_id] != d.outcome
        ),
        key=lambda d: (d.pk in reviewed_ids, d.pk),
    )[:DRILLS]
    for source in wrong:
        drill_create(
            principal=admin,
            source=source,
            correct_outcome=actual[source.external_id],
            note="The applicant repaid in full: the refusal was wrong.",
        )
        out.drills += 1
    # the quick officer met two drills and upheld the model, the careful one
    # overturned one: answered drills for the dashboard
    for drill, name in zip(
        Drill.objects.filter(ai_system=ai_system).order_by("id")[:3],
        ["demo-bank-officer-quick", "demo-bank-officer-quick", "demo-bank-officer"],
        strict=False,
    ):
        Drill.objects.filter(pk=drill.pk).update(
            assigned_to=users[name], assigned_at=now
        )
        principal = principals[name]
        preliminary_view_record(
            principal=principal,
            decision=drill.decision,
            outcome=drill.decision.outcome
            if name.endswith("quick")
            else drill.correct_outcome,
        )
        review_record(
            principal=principal,
            decision=drill.decision,
            action="uphold" if name.endswith("quick") else "overturn",
            justification=JUSTIFICATIONS[
                "uphold" if name.endswith("quick") else "overturn"
            ],
        )
    MonthlyAggregate.objects.filter(ai_system=ai_system).delete()
    system = Principal(organization=org, role=SYSTEM)
    out.alerts = [
        a.message
        for a in alerts_raise(
            principal=system, ai_system=ai_system, actor="system:demo_monitoring"
        )
    ]
    last_month = (now.replace(day=1) - timedelta(days=1)).date()
    out.report_job = report_request(
        principal=Principal(organization=org, role=ADMIN, user=admin_user),
        ai_system=ai_system,
        month=last_month,
    ).pk
    return out
