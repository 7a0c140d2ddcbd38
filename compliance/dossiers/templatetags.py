"""Template filters for showing feature values in people's terms."""

from __future__ import annotations

from typing import Any

from django import template

import explain

register = template.Library()


@register.filter
def feature_value(value: Any) -> str:
    """Floats without binary noise (13.254999999999999 -> 13.255), booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if value is None:
        return "none"
    return str(value)


@register.filter
def method_name(method: str) -> str:
    """An explanation method's human name ("Integrated Gradients"), else its id."""
    spec = explain.METHOD_SPECS.get(method)
    return spec.name if spec is not None else method
