from __future__ import annotations

from django.urls import path

from compliance.web import (
    cases,
    monitoring,
    notices,
    public,
    records,
    two_factor,
    webhooks,
)

app_name = "web"

urlpatterns = [
    path("cases/", cases.case_list, name="case-list"),
    path("cases/assign", cases.cases_assign_view, name="cases-assign"),
    path("cases/<int:pk>/", cases.case_detail, name="case-detail"),
    path("cases/<int:pk>/assign", cases.case_assign_view, name="case-assign"),
    path("cases/<int:pk>/review", cases.case_review, name="case-review"),
    path("cases/<int:pk>/drill", cases.case_drill, name="case-drill"),
    path("cases/<int:pk>/confirm", cases.case_confirm, name="case-confirm"),
    path("cases/<int:pk>/preliminary", cases.case_preliminary, name="case-preliminary"),
    path("cases/<int:pk>/explain", cases.case_explain, name="case-explain"),
    path("cases/<int:pk>/dossier", cases.case_dossier, name="case-dossier"),
    path(
        "cases/<int:pk>/notice/preview",
        notices.case_notice_preview,
        name="case-notice-preview",
    ),
    path(
        "cases/<int:pk>/notice/issue",
        notices.case_notice_issue,
        name="case-notice-issue",
    ),
    path("monitoring/", monitoring.monitoring_overview, name="monitoring"),
    path(
        "monitoring/reports/",
        monitoring.monitoring_report_request,
        name="monitoring-report-request",
    ),
    path(
        "monitoring/reports/<int:pk>/pdf",
        monitoring.monitoring_report_download,
        name="monitoring-report",
    ),
    path(
        "monitoring/oversight/",
        monitoring.monitoring_topic,
        {"topic": "oversight"},
        name="monitoring-oversight",
    ),
    path(
        "monitoring/fairness/",
        monitoring.monitoring_topic,
        {"topic": "fairness"},
        name="monitoring-fairness",
    ),
    path(
        "monitoring/drift/",
        monitoring.monitoring_topic,
        {"topic": "drift"},
        name="monitoring-drift",
    ),
    path("dossiers/", records.dossier_list, name="dossier-list"),
    path("dossiers/verify", records.dossier_verify, name="dossier-verify"),
    path("verify/", public.dossier_verify_page, name="public-verify"),
    path("audit/", records.audit_trail, name="audit-trail"),
    path("webhooks/", webhooks.webhook_list, name="webhook-list"),
    path("webhooks/<int:pk>/", webhooks.webhook_detail, name="webhook-detail"),
    path("webhooks/<int:pk>/change", webhooks.webhook_change, name="webhook-change"),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery>/redeliver",
        webhooks.webhook_redeliver,
        name="webhook-redeliver",
    ),
    path(
        "accounts/two-factor/verify/",
        two_factor.two_factor_verify,
        name="two-factor-verify",
    ),
    path(
        "accounts/two-factor/enrol/",
        two_factor.two_factor_enrol,
        name="two-factor-enrol",
    ),
]
