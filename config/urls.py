from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from compliance.platform.observability import metrics_view
from compliance.web import views as web_views
from compliance.web.login import ThrottledLoginView

urlpatterns = [
    path("", web_views.home, name="home"),
    path("healthz", web_views.healthz, name="healthz"),
    path("readyz", web_views.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("compliance.web.urls")),
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
