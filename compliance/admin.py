"""Django admin for platform administrators. Audited rows change only through services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from compliance.models import (
    AISystem,
    ApiKey,
    AuditEvent,
    ClientSystem,
    Decision,
    Membership,
    ModelVersion,
    Organization,
    Review,
)
from compliance.principals import Operator
from compliance.tenancy import services


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: viewable, never edited here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "jurisdiction", "created_at"]
    search_fields = ["name", "slug"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["organization", "role"]


@admin.register(ClientSystem)
class ClientSystemAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "created_at"]
    list_filter = ["organization"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "prefix",
        "name",
        "client_system",
        "created",
        "expiry_date",
        "revoked",
        "revoked_at",
    ]
    list_filter = ["revoked", "client_system__organization"]
    readonly_fields = ["prefix", "hashed_key", "created", "revoked", "revoked_at"]
    fields = [
        "client_system",
        "name",
        "expiry_date",
        "prefix",
        "created",
        "revoked",
        "revoked_at",
    ]
    actions = ["revoke_keys"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: ApiKey, form: Any, change: bool
    ) -> None:
        api_key, key = services.api_key_create(
            client_system=obj.client_system,
            name=obj.name,
            expires_at=obj.expiry_date,
            operator=Operator.for_user(request.user),
        )
        obj.pk = api_key.pk
        obj.prefix = api_key.prefix
        messages.warning(
            request,
            f"The API key for {api_key.client_system} is: {key} — copy it now; it is not shown again.",
        )

    @admin.action(description="Revoke selected API keys")
    def revoke_keys(self, request: HttpRequest, queryset: Any) -> None:
        for api_key in queryset:
            services.api_key_revoke(
                api_key=api_key, operator=Operator.for_user(request.user)
            )
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(AISystem)
class AISystemAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "provider", "annex_iii_category"]
    list_filter = ["organization"]


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = [
        "ai_system",
        "version",
        "architecture",
        "weights_sha256",
        "is_active",
        "created_at",
    ]
    list_filter = ["ai_system__organization", "is_active"]


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "external_id",
        "organization",
        "ai_system",
        "outcome",
        "status",
        "prediction_consistent",
        "decided_at",
    ]
    list_filter = ["organization", "status", "outcome"]
    search_fields = ["external_id", "subject_ref"]


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ["decision", "reviewer", "action", "created_at"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = [
        "sequence",
        "at",
        "actor",
        "organization",
        "action",
        "object_type",
        "object_id",
    ]
    list_filter = ["organization", "action"]
    search_fields = ["actor", "object_id"]
