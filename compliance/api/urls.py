from __future__ import annotations

from django.urls import path

from compliance.api import contests, monitoring, notices, records, views, webhooks

app_name = "api"

urlpatterns = [
    path("ai-systems/", views.AISystemListApi.as_view(), name="ai-system-list"),
    path(
        "ai-systems/<int:pk>/",
        views.AISystemDetailApi.as_view(),
        name="ai-system-detail",
    ),
    path(
        "model-versions/",
        views.ModelVersionListApi.as_view(),
        name="model-version-list",
    ),
    path(
        "model-versions/<int:pk>/",
        views.ModelVersionDetailApi.as_view(),
        name="model-version-detail",
    ),
    path("decisions/", views.DecisionListApi.as_view(), name="decision-list"),
    path("decisions/bulk/", views.DecisionBulkApi.as_view(), name="decision-bulk"),
    path(
        "decisions/<int:pk>/", views.DecisionDetailApi.as_view(), name="decision-detail"
    ),
    path(
        "decisions/<int:pk>/explanations/",
        views.DecisionExplanationsApi.as_view(),
        name="decision-explanations",
    ),
    path(
        "decisions/<int:pk>/reviews/",
        views.DecisionReviewsApi.as_view(),
        name="decision-reviews",
    ),
    path(
        "decisions/<int:pk>/dossiers/",
        views.DecisionDossiersApi.as_view(),
        name="decision-dossiers",
    ),
    path("dossiers/", views.DossierListApi.as_view(), name="dossier-list"),
    path("dossiers/verify/", views.DossierVerifyApi.as_view(), name="dossier-verify"),
    path(
        "public/verify/",
        views.PublicDossierVerifyApi.as_view(),
        name="public-dossier-verify",
    ),
    path("dossiers/<int:pk>/", views.DossierDetailApi.as_view(), name="dossier-detail"),
    path("dossiers/<int:pk>/pdf/", views.DossierPdfApi.as_view(), name="dossier-pdf"),
    path(
        "decisions/<int:pk>/contests/",
        contests.DecisionContestsApi.as_view(),
        name="decision-contests",
    ),
    path(
        "decisions/<int:pk>/notices/",
        notices.DecisionNoticesApi.as_view(),
        name="decision-notices",
    ),
    path("notices/", notices.NoticeListApi.as_view(), name="notice-list"),
    path("notices/<int:pk>/", notices.NoticeDetailApi.as_view(), name="notice-detail"),
    path("notices/<int:pk>/pdf/", notices.NoticePdfApi.as_view(), name="notice-pdf"),
    path("notices/<int:pk>/html/", notices.NoticeHtmlApi.as_view(), name="notice-html"),
    path(
        "monitoring/oversight/",
        monitoring.OversightApi.as_view(),
        name="monitoring-oversight",
    ),
    path(
        "monitoring/fairness/",
        monitoring.FairnessApi.as_view(),
        name="monitoring-fairness",
    ),
    path(
        "monitoring/drift/",
        monitoring.DriftApi.as_view(),
        name="monitoring-drift",
    ),
    path("jobs/", records.JobListApi.as_view(), name="job-list"),
    path("jobs/<int:pk>/", views.JobDetailApi.as_view(), name="job-detail"),
    path("audit-events/", records.AuditEventListApi.as_view(), name="audit-event-list"),
    path("webhooks/", webhooks.WebhookListApi.as_view(), name="webhook-list"),
    path(
        "webhooks/<int:pk>/", webhooks.WebhookDetailApi.as_view(), name="webhook-detail"
    ),
    path(
        "webhooks/<int:pk>/secret/",
        webhooks.WebhookSecretApi.as_view(),
        name="webhook-secret",
    ),
    path(
        "webhooks/<int:pk>/deliveries/",
        webhooks.WebhookDeliveryListApi.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery>/",
        webhooks.WebhookDeliveryDetailApi.as_view(),
        name="webhook-delivery-detail",
    ),
    path(
        "webhooks/<int:pk>/deliveries/<int:delivery>/redeliver/",
        webhooks.WebhookRedeliverApi.as_view(),
        name="webhook-redeliver",
    ),
]
