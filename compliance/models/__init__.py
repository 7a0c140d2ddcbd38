"""Domain models, one module per concern; the bottom layer (imports nothing of ours above).

Writes go through the services of each package, never ``.save()`` from views.
"""

from __future__ import annotations

from compliance.models.audit import AuditEvent, ChainAnchor
from compliance.models.decisions import (
    Contest,
    Decision,
    Drill,
    PreliminaryView,
    Review,
)
from compliance.models.idempotency import IdempotencyKey
from compliance.models.jobs import Job
from compliance.models.monitoring import (
    MonitoringAlert,
    MonthlyAggregate,
    OversightReport,
)
from compliance.models.registry import AISystem, ModelVersion, _weights_upload_to
from compliance.models.results import Dossier, Explanation, ExplanationRun, Notice
from compliance.models.tenancy import ApiKey, ClientSystem, Membership, Organization
from compliance.models.webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

__all__ = [
    "AISystem",
    "ApiKey",
    "AuditEvent",
    "ChainAnchor",
    "ClientSystem",
    "Contest",
    "Decision",
    "Dossier",
    "Drill",
    "Explanation",
    "ExplanationRun",
    "IdempotencyKey",
    "Job",
    "Membership",
    "ModelVersion",
    "MonitoringAlert",
    "MonthlyAggregate",
    "Notice",
    "Organization",
    "OversightReport",
    "PreliminaryView",
    "Review",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "_weights_upload_to",
]
