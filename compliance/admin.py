"""Django admin for platform administrators.

Every row is shown read-only. Changes go through the services (each writes its audit
event with old and new values): adding, where an admin allows it, calls the model's
create service from ``save_model``; every other change is an admin action that calls a
service, with a small form where it needs values. Nothing is deleted here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django_otp.plugins.otp_totp import admin as _totp_admin  # noqa: F401  (registers)
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_api_key.models import APIKey as LibraryAPIKey

from compliance.errors import DomainError
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
from compliance.platform import text_limits
from compliance.platform.text import text_problem
from compliance.principals import Operator
from compliance.registry import services as registry
from compliance.tenancy import services


def _operator(request: HttpRequest) -> Operator:
    return Operator.for_user(request.user)


class RefuseHostileText:
    """Form mixin: NUL, lone surrogates and bidirectional controls in any text the
    admin would store are a form error naming the field (as over the API), never a
    500 from the database or a name that reads differently than it is stored."""

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        for name, value in list(cleaned.items()):
            problem = text_problem(value) if isinstance(value, str) else None
            if problem:
                self.add_error(name, problem)  # type: ignore[attr-defined]
        return cleaned


class AdminModelForm(RefuseHostileText, forms.ModelForm):
    pass


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, never edited or deleted here; subclasses may add through a service
    (``has_add_permission`` + ``save_model``) and offer actions that call services."""

    form = AdminModelForm

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _each(
        self,
        request: HttpRequest,
        queryset: QuerySet[Any],
        call: Callable[[Any], Any],
        done: str,
    ) -> None:
        """Call a service per selected row; report domain errors per row."""
        count = 0
        for obj in queryset:
            try:
                call(obj)
            except DomainError as exc:
                self.message_user(request, f"{obj}: {exc.detail}", messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(request, done.format(count=count))

    def _form_action(
        self,
        request: HttpRequest,
        queryset: QuerySet[Any],
        form_class: type[forms.Form],
        call: Callable[[Any, dict[str, Any]], Any],
        *,
        title: str,
        done: str,
        single: bool = False,
    ) -> TemplateResponse | None:
        """An action that asks for values on an intermediate page, then calls the
        service for each selected row. ``single``: one row at a time (the form shows
        its current values)."""
        if single and queryset.count() != 1:
            self.message_user(request, "Select exactly one row.", messages.ERROR)
            return None
        first = queryset.first()
        if "apply" in request.POST:
            form = form_class(request.POST)
            if form.is_valid():
                self._each(
                    request, queryset, lambda o: call(o, form.cleaned_data), done
                )
                return None
        else:
            initial = {
                name: getattr(first, name)
                for name in form_class.base_fields
                if single and hasattr(first, name)
            }
            form = form_class(initial=initial)
        return TemplateResponse(
            request,
            "admin/compliance/action_form.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "form": form,
                "queryset": queryset,
                "action": request.POST.get("action", ""),
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            },
        )


class OrganizationForm(RefuseHostileText, forms.Form):
    name = forms.CharField(max_length=200)
    jurisdiction = forms.ChoiceField(choices=Organization.Jurisdiction.choices)
    # printed on notices to the people decisions are about
    postal_address = forms.CharField(
        max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    contact = forms.CharField(max_length=200, required=False)
    contest_days = forms.IntegerField(min_value=1, max_value=365, required=False)
    regulator = forms.CharField(
        max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    credit_agency = forms.CharField(
        max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


@admin.register(Organization)
class OrganizationAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "jurisdiction", "created_at"]
    search_fields = ["name", "slug"]
    # notice details (address, contact, contest period, regulator) are set with the
    # change action
    fields = ["name", "slug", "jurisdiction"]
    actions = ["update_organization"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.ModelAdmin.has_add_permission(self, request)

    def save_model(
        self, request: HttpRequest, obj: Organization, form: Any, change: bool
    ) -> None:
        org = services.organization_create(
            name=obj.name,
            slug=obj.slug,
            jurisdiction=obj.jurisdiction,
            operator=_operator(request),
        )
        obj.pk = org.pk

    @admin.action(description="Change name, jurisdiction or notice details")
    def update_organization(
        self, request: HttpRequest, queryset: QuerySet[Organization]
    ) -> TemplateResponse | None:
        return self._form_action(
            request,
            queryset,
            OrganizationForm,
            lambda org, data: services.organization_update(
                organization=org, operator=_operator(request), **data
            ),
            title="Change the organisation",
            done="Updated {count} organisation(s).",
            single=True,
        )


class RoleForm(RefuseHostileText, forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["organization", "role"]
    fields = ["user", "organization", "role"]
    actions = ["change_role", "remove_memberships"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.ModelAdmin.has_add_permission(self, request)

    def save_model(
        self, request: HttpRequest, obj: Membership, form: Any, change: bool
    ) -> None:
        membership = services.membership_grant(
            user=obj.user,
            organization=obj.organization,
            role=obj.role,
            operator=_operator(request),
        )
        obj.pk = membership.pk

    @admin.action(description="Change role")
    def change_role(
        self, request: HttpRequest, queryset: QuerySet[Membership]
    ) -> TemplateResponse | None:
        return self._form_action(
            request,
            queryset,
            RoleForm,
            lambda m, data: services.membership_role_change(
                membership=m, role=data["role"], operator=_operator(request)
            ),
            title="Change the role of these members",
            done="Changed the role of {count} member(s).",
        )

    @admin.action(description="Remove from their organisation")
    def remove_memberships(
        self, request: HttpRequest, queryset: QuerySet[Membership]
    ) -> None:
        self._each(
            request,
            queryset,
            lambda m: services.membership_remove(
                membership=m, operator=_operator(request)
            ),
            "Removed {count} membership(s).",
        )


class NameForm(RefuseHostileText, forms.Form):
    name = forms.CharField(max_length=200)


@admin.register(ClientSystem)
class ClientSystemAdmin(ReadOnlyAdmin):
    """A client system never moves to another organisation: its keys and decisions
    are that organisation's. It can be renamed."""

    list_display = ["name", "organization", "created_at"]
    list_filter = ["organization"]
    fields = ["organization", "name"]
    actions = ["rename_client_system"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.ModelAdmin.has_add_permission(self, request)

    def save_model(
        self, request: HttpRequest, obj: ClientSystem, form: Any, change: bool
    ) -> None:
        client_system = services.client_system_create(
            organization=obj.organization, name=obj.name, operator=_operator(request)
        )
        obj.pk = client_system.pk

    @admin.action(description="Rename")
    def rename_client_system(
        self, request: HttpRequest, queryset: QuerySet[ClientSystem]
    ) -> TemplateResponse | None:
        return self._form_action(
            request,
            queryset,
            NameForm,
            lambda cs, data: services.client_system_rename(
                client_system=cs, name=data["name"], operator=_operator(request)
            ),
            title="Rename the client system",
            done="Renamed {count} client system(s).",
            single=True,
        )


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
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
    fields = ["client_system", "name", "expiry_date"]
    actions = ["revoke_keys", "expire_keys"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.ModelAdmin.has_add_permission(self, request)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.fields
        return [*self.fields, "prefix", "created", "revoked", "revoked_at"]

    def save_model(
        self, request: HttpRequest, obj: ApiKey, form: Any, change: bool
    ) -> None:
        api_key, key = services.api_key_create(
            client_system=obj.client_system,
            name=obj.name,
            expires_at=obj.expiry_date,
            operator=_operator(request),
        )
        obj.pk = api_key.pk
        obj.prefix = api_key.prefix
        # shown once, on the page this request renders (response_add): never in a
        # message (a cookie or the session), a redirect or a URL
        request._new_api_key = key  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: Any = None
    ) -> Any:
        key = getattr(request, "_new_api_key", None)
        if key is None:
            return super().response_add(request, obj, post_url_continue)
        response = TemplateResponse(
            request,
            "admin/compliance/apikey/created.html",
            {
                **self.admin_site.each_context(request),
                "title": "New API key",
                "opts": self.model._meta,
                "api_key": obj,
                "key": key,
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected API keys")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        self._each(
            request,
            queryset,
            lambda k: services.api_key_revoke(api_key=k, operator=_operator(request)),
            "Revoked {count} key(s).",
        )

    @admin.action(description="Expire selected API keys now")
    def expire_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        self._each(
            request,
            queryset,
            lambda k: services.api_key_expire(api_key=k, operator=_operator(request)),
            "Expired {count} key(s).",
        )


class AISystemForm(RefuseHostileText, forms.Form):
    provider = forms.CharField(max_length=text_limits.SHORT_TEXT)
    intended_purpose = forms.CharField(
        widget=forms.Textarea, max_length=text_limits.INTENDED_PURPOSE
    )
    annex_iii_category = forms.CharField(
        max_length=200,
        required=False,
        help_text="Decides the regimes a dossier names; unless four-eyes is set, "
        "a category turns it on.",
    )
    deployer = forms.CharField(max_length=200, required=False)
    instructions_for_use = forms.CharField(
        widget=forms.Textarea,
        required=False,
        max_length=text_limits.INSTRUCTIONS_FOR_USE,
    )
    known_limitations = forms.CharField(
        widget=forms.Textarea, required=False, max_length=text_limits.KNOWN_LIMITATIONS
    )
    explain_on_receipt = forms.BooleanField(required=False)
    blind_first_review = forms.NullBooleanField(
        required=False,
        help_text="Reviewers record a preliminary view before the model's output. "
        "Unknown: on for Annex III.",
    )
    drill_rate = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=0.5,
        help_text="Share of a reviewer's cases that are training drills; 0: none.",
    )

    def clean_drill_rate(self) -> float:
        return self.cleaned_data.get("drill_rate") or 0.0

    four_eyes_overturn = forms.NullBooleanField(
        required=False,
        help_text="Overturns wait for a second officer. Unknown: on for Annex III.",
    )
    explanation_cost_budget = forms.IntegerField(
        required=False,
        min_value=1,
        help_text="Most model evaluations one explanation request may cost per "
        "decision; empty: the platform default (EXPLANATION_COST_BUDGET).",
    )
    review_sla_hours = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=registry.REVIEW_SLA_HOURS_MAX,
        help_text="Hours from receipt within which a case should be reviewed; the "
        "case queue marks open cases past it. Empty: the platform default "
        "(REVIEW_SLA_HOURS).",
    )


@admin.register(AISystem)
class AISystemAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "organization",
        "provider",
        "annex_iii_category",
        "four_eyes_overturn",
    ]
    list_filter = ["organization"]
    actions = ["update_ai_system"]

    @admin.action(description="Change description or review settings")
    def update_ai_system(
        self, request: HttpRequest, queryset: QuerySet[AISystem]
    ) -> TemplateResponse | None:
        return self._form_action(
            request,
            queryset,
            AISystemForm,
            lambda ai, data: registry.ai_system_update(
                operator=_operator(request), ai_system=ai, **data
            ),
            title="Change the AI system",
            done="Updated {count} AI system(s).",
            single=True,
        )


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
    actions = ["retire_versions"]

    @admin.action(description="Retire (accept no new decisions)")
    def retire_versions(
        self, request: HttpRequest, queryset: QuerySet[ModelVersion]
    ) -> None:
        self._each(
            request,
            queryset,
            lambda mv: registry.model_version_retire(
                operator=_operator(request), model_version=mv
            ),
            "Retired {count} model version(s).",
        )


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "external_id",
        "organization",
        "ai_system",
        "outcome",
        "status",
        "final_outcome",
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


# Accounts: Django's own forms (and its password form, audited by the password hook),
# saved through ``user_save``; never deleted (reviews and events name them). Roles
# live in memberships, not in Django's groups.
admin.site.unregister(get_user_model())
admin.site.unregister(Group)
# the API-key library's own key table is not ours (ours is ApiKey, per client system)
if admin.site.is_registered(LibraryAPIKey):
    admin.site.unregister(LibraryAPIKey)
# two-factor devices are not edited here (their secrets would show): a person's
# devices are removed with the audited "Reset two-factor authentication" action
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


class UserChangeAdminForm(RefuseHostileText, UserChangeForm):
    pass


class UserCreationAdminForm(RefuseHostileText, AdminUserCreationForm):
    pass


@admin.register(get_user_model())
class AuditedUserAdmin(UserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    # no groups or per-user permissions: they are not how this project gives rights
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Platform rights", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    filter_horizontal = ()
    list_filter = ("is_staff", "is_superuser", "is_active")
    readonly_fields = ("last_login", "date_joined")

    actions = ["reset_two_factor"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: Any, form: Any, change: bool
    ) -> None:
        services.user_save(user=obj, operator=_operator(request))

    @admin.action(description="Reset two-factor authentication (a lost device)")
    def reset_two_factor(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for user in queryset:
            services.two_factor_reset(user=user, operator=_operator(request))
        self.message_user(
            request,
            f"Reset two-factor authentication of {queryset.count()} account(s); "
            "their next sign-in sets up a new device.",
        )
