from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from compliance.platform.observability import metrics_view
from compliance.web import views as web_views
from compliance.web.login import (
    ThrottledLoginView,
    admin_login,  # issue 13: limited admin sign-in
    password_reset_off,  # issue 13
)

urlpatterns = [
    path("", web_views.home, name="home"),
    path("healthz", web_views.healthz, name="healthz"),
    path("readyz", web_views.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    # --- issue 13: password reset is switched off (no mail is configured): its routes
    # answer 404 and the sign-in page says to ask an administrator
    path("accounts/password_reset/", password_reset_off, name="password_reset"),
    path(
        "accounts/password_reset/done/", password_reset_off, name="password_reset_done"
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        password_reset_off,
        name="password_reset_confirm",
    ),
    path("accounts/reset/done/", password_reset_off, name="password_reset_complete"),
    # --- end of password reset
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("compliance.web.urls")),
    # issue 13: the admin's sign-in has the same attempt limits and two-factor step
    path("admin/login/", admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI under the site's CSP: the page loads its init script from
    # /api/docs/?script= (same origin) instead of running it inline (issue 13)
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema"),
        name="api-docs",
    ),
    path("api/v1/", include("compliance.api.urls")),
]

handler403 = "compliance.web.views.forbidden"
handler404 = "compliance.web.views.not_found"
handler500 = "compliance.web.views.server_error"
