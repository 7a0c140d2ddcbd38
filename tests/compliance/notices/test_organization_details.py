"""The details notices print are an organisation's, changed through the audited
service (the admin's change action calls it)."""

from __future__ import annotations

from typing import Any

import pytest

from compliance.errors import ValidationFailed
from compliance.models import AuditEvent
from compliance.tenancy import services
from tests import factories


@pytest.mark.django_db
def test_notice_details_are_changed_and_audited() -> None:
    org = factories.make_org("details-org")
    services.organization_update(
        organization=org,
        postal_address="1 Bank Street\n60311 Frankfurt",
        contact="appeals@bank.example",
        contest_days=45,
        regulator="Hessian Commissioner for Data Protection",
    )
    org.refresh_from_db()
    assert org.contest_days == 45
    assert org.contact == "appeals@bank.example"
    event = AuditEvent.objects.get(action="organization.updated")
    assert event.payload["new"]["contest_days"] == 45


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("contest_days", 0, "A whole number of days from 1 to 365."),
        ("contest_days", 366, "A whole number of days from 1 to 365."),
        ("contact", "x" * 201, "At most 200 characters."),
        ("postal_address", "x" * 1001, "At most 1000 characters."),
    ],
)
def test_notice_details_out_of_bounds_are_refused(
    field: str, value: Any, message: str
) -> None:
    org = factories.make_org("details-bad-org")
    with pytest.raises(ValidationFailed) as refused:
        services.organization_update(organization=org, **{field: value})
    assert refused.value.errors == {field: [message]}
    assert not AuditEvent.objects.filter(action="organization.updated").exists()
