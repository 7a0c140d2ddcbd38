from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms

from compliance.models import Decision

MAX_ID = 2**62


class BoundedIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """ISO datetimes; ones that overflow when shifted to UTC (year 1 with a positive
    offset, year 9999 with a negative one) are clamped to the earliest or latest UTC
    instant, which selects the same decisions."""

    def clean(self, value: Any) -> Any:
        if value == "":  # given but empty is not "no filter"
            raise forms.ValidationError(
                "Enter a date and time, or leave the filter out."
            )
        cleaned = super().clean(value)
        if cleaned is None:
            return None
        try:
            # in UTC: PostgreSQL refuses offsets beyond about ±16 h ("-21:45")
            return cleaned.astimezone(UTC)
        except OverflowError:
            early = cleaned.year < 5000
            return (
                datetime(1, 1, 1, tzinfo=UTC)
                if early
                else datetime.max.replace(tzinfo=UTC)
            )


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


class IdFilter(django_filters.Filter):
    """A whole number (any size; the filter method bounds it)."""

    field_class = forms.IntegerField


class DecisionFilter(django_filters.FilterSet):
    ai_system = IdFilter(field_name="ai_system_id", method="_by_id")
    model_version = IdFilter(field_name="model_version_id", method="_by_id")
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

    def _by_id(self, queryset: Any, name: str, value: Any) -> Any:
        """An id no row can have (beyond 2**62) selects nothing rather than overflowing."""
        if abs(value) > MAX_ID:
            return queryset.none()
        return queryset.filter(**{name: int(value)})
