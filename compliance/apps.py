from __future__ import annotations

from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Inspectoscope compliance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from compliance import receivers  # noqa: F401  (login audit events)
        from compliance.audit import audit_listener_register
        from compliance.dossiers import DossierHandler
        from compliance.explanations import ExplanationHandler
        from compliance.jobs import handler_register
        from compliance.jobs.audit_verify import AuditVerifyHandler
        from compliance.monitoring.report import ReportHandler
        from compliance.notices import NoticeHandler
        from compliance.webhooks import WebhookHandler, audit_events_observe

        handler_register(ExplanationHandler())
        handler_register(DossierHandler())
        handler_register(AuditVerifyHandler())
        handler_register(NoticeHandler())
        handler_register(ReportHandler())
        handler_register(WebhookHandler())
        audit_listener_register(audit_events_observe)
