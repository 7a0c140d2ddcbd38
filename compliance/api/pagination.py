from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from compliance.platform.numbers import whole_number

_LARGEST_PAGE = 10**18 - 1  # any bigger page number is past the end all the same


def _one_whole_number(raw: list[str]) -> int | None:
    """The number when ``raw`` is one string of ASCII digits (huge ones capped)."""
    return whole_number(raw[0], cap=_LARGEST_PAGE) if len(raw) == 1 else None


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Any) -> int:
        """A page_size that is given must be a whole number from 1 to 200 (not ignored)."""
        raw = request.query_params.getlist(self.page_size_query_param)
        if not raw:
            return self.page_size
        number = _one_whole_number(raw)
        if number is None or not (1 <= number <= self.max_page_size):
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        f"Use one whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return number

    def get_page_number(self, request: Any, paginator: Any) -> int:
        """A page that is given must be one whole number from 1 (not ``""`` for page 1,
        nor DRF's ``last``); past the last page is a 404, as in DRF."""
        raw = request.query_params.getlist(self.page_query_param)
        if not raw:
            return 1
        number = _one_whole_number(raw)
        if number is None or number < 1:
            raise ValidationError(
                {self.page_query_param: ["Use one whole number from 1."]}
            )
        return number

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                }
            elif parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters
