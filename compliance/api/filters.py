from __future__ import annotations

from typing import Any

import django_filters
from django import forms

from compliance.models import Decision

MAX_ID = 2**62


class BoundedIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """ISO datetimes within years 1900-2999: others overflow when shifted to UTC."""

    def clean(self, value: Any) -> Any:
        if value == "":  # given but empty is not "no filter"
            raise forms.ValidationError(
                "Enter a date and time, or leave the filter out."
            )
        cleaned = super().clean(value)
        if cleaned is not None and not 1900 <= cleaned.year <= 2999:
            raise forms.ValidationError("Use a date between the years 1900 and 2999.")
        return cleaned


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class DecisionFilter(django_filters.FilterSet):
    ai_system = django_filters.NumberFilter(
        field_name="ai_system_id", min_value=-MAX_ID, max_value=MAX_ID
    )
    model_version = django_filters.NumberFilter(
        field_name="model_version_id", min_value=-MAX_ID, max_value=MAX_ID
    )
    outcome = django_filters.CharFilter(field_name="outcome")
    status = django_filters.ChoiceFilter(
        field_name="status", choices=Decision.Status.choices
    )
    decided_after = BoundedIsoDateTimeFilter(field_name="decided_at", lookup_expr="gte")
    decided_before = BoundedIsoDateTimeFilter(field_name="decided_at", lookup_expr="lt")

    class Meta:
        model = Decision
        fields = [
            "ai_system",
            "model_version",
            "outcome",
            "status",
            "decided_after",
            "decided_before",
        ]
