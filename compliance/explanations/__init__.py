"""Explanations: request them (``request``), compute and store them as ``explanation``
jobs (``handler``), read them (``selectors``)."""

from __future__ import annotations

from compliance.explanations.handler import ExplanationHandler
from compliance.explanations.request import (
    explanation_request,
    explanation_request_check,
)

__all__ = ["ExplanationHandler", "explanation_request", "explanation_request_check"]
