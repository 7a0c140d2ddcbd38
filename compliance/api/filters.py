from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.core import validators

from compliance.models import Decision, Dossier, Notice
from compliance.platform.numbers import MAX_ID, whole_number
from compliance.principals import principal_for_request
from compliance.reviews.selectors import blind_pending_expression


class _GivenMeansNotEmpty:
    """A filter that is given but empty is an error, not "no filter"."""

    empty_message = "Enter a value, or leave the filter out."

    def clean(self, value: Any) -> Any:
        if value == "":
            raise forms.ValidationError(self.empty_message)
        return super().clean(value)  # type: ignore[misc]


class BoundedIsoDateTimeField(
    _GivenMeansNotEmpty, django_filters.fields.IsoDateTimeField
):
    """ISO datetimes; ones that overflow when shifted to UTC (year 1 with a positive
    offset, year 9999 with a negative one) are clamped to the earliest or latest UTC
    instant, which selects the same decisions."""

    empty_message = "Enter a date and time, or leave the filter out."

    def clean(self, value: Any) -> Any:
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


class WholeNumberField(_GivenMeansNotEmpty, forms.IntegerField):
    """ASCII digits with an optional sign, of any size (not "1.0", not " 1", not "١"):
    past 2**62 it comes back as MAX_ID + 1 (with its sign) without converting all its
    digits (Python refuses over 4300)."""

    empty_message = "Enter a whole number, or leave the filter out."

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        number = whole_number(str(value), cap=MAX_ID, signed=True)
        if number is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return number


class IdFilter(django_filters.Filter):
    """A whole number (any size; the filter method bounds it)."""

    field_class = WholeNumberField


class NulFreeCharField(forms.CharField):
    """Text that may contain NUL: the filter, not the form, decides what it selects."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.validators = [
            v
            for v in self.validators
            if not isinstance(v, validators.ProhibitNullCharactersValidator)
        ]


class StoredTextFilter(django_filters.CharFilter):
    """Exact text. Stored text never contains NUL (inputs refuse it; PostgreSQL cannot
    store it), so a value with NUL selects nothing instead of being an error."""

    field_class = NulFreeCharField

    def filter(self, qs: Any, value: Any) -> Any:
        if value and "\x00" in value:
            return qs.none()
        return super().filter(qs, value)


class StrictChoiceField(_GivenMeansNotEmpty, django_filters.fields.ChoiceField):
    empty_message = "Choose one of the listed values, or leave the filter out."


class StrictChoiceFilter(django_filters.ChoiceFilter):
    field_class = StrictChoiceField


class _IdFilterSet(django_filters.FilterSet):
    def _by_id(self, queryset: Any, name: str, value: Any) -> Any:
        """An id no row can have (beyond 2**62) selects nothing rather than overflowing."""
        if abs(value) > MAX_ID:
            return queryset.none()
        return queryset.filter(**{name: int(value)})


class OutcomeFilter(StoredTextFilter):
    """The model's outcome. Blind-first: a decision whose answer is hidden from the
    caller is never selected by it, whichever outcome is asked for (neither the rows
    nor the count tell it)."""

    def filter(self, qs: Any, value: Any) -> Any:
        qs = super().filter(qs, value)
        if not value:
            return qs
        principal = principal_for_request(self.parent.request)
        return qs.alias(outcome_hidden=blind_pending_expression(principal)).filter(
            outcome_hidden=False
        )


class DecisionFilter(_IdFilterSet):
    ai_system = IdFilter(field_name="ai_system_id", method="_by_id")
    model_version = IdFilter(field_name="model_version_id", method="_by_id")
    outcome = OutcomeFilter(field_name="outcome")
    status = StrictChoiceFilter(field_name="status", choices=Decision.Status.choices)
    decided_after = BoundedIsoDateTimeFilter(field_name="decided_at", lookup_expr="gte")
    decided_before = BoundedIsoDateTimeFilter(field_name="decided_at", lookup_expr="lt")
    # the client's own references (exact): find a case by what the client calls it
    external_id = StoredTextFilter(field_name="external_id")
    subject_ref = StoredTextFilter(field_name="subject_ref")

    class Meta:
        model = Decision
        fields = [
            "ai_system",
            "model_version",
            "outcome",
            "status",
            "decided_after",
            "decided_before",
            "external_id",
            "subject_ref",
        ]


class DossierFilter(_IdFilterSet):
    decision = IdFilter(field_name="decision_id", method="_by_id")

    class Meta:
        model = Dossier
        fields = ["decision"]


class NoticeFilter(_IdFilterSet):
    decision = IdFilter(field_name="decision_id", method="_by_id")
    # the languages notices are written in (an enum in the contract)
    language = django_filters.ChoiceFilter(
        field_name="language", choices=settings.LANGUAGES
    )

    class Meta:
        model = Notice
        fields = ["decision", "language"]
