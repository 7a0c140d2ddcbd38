from __future__ import annotations

import django_filters

from compliance.models import Decision


class DecisionFilter(django_filters.FilterSet):
    ai_system = django_filters.NumberFilter(field_name="ai_system_id")
    model_version = django_filters.NumberFilter(field_name="model_version_id")
    outcome = django_filters.CharFilter(field_name="outcome")
    status = django_filters.ChoiceFilter(
        field_name="status", choices=Decision.Status.choices
    )
    decided_after = django_filters.IsoDateTimeFilter(
        field_name="decided_at", lookup_expr="gte"
    )
    decided_before = django_filters.IsoDateTimeFilter(
        field_name="decided_at", lookup_expr="lt"
    )

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
