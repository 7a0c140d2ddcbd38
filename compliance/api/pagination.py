from __future__ import annotations

import re
from typing import Any

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination

from compliance.platform.numbers import whole_number

_LARGEST_PAGE = 10**18 - 1
_CURSOR_PATTERN = "^[A-Za-z0-9+/=_-]{0,512}$"
_CURSOR = re.compile(_CURSOR_PATTERN)


def _one_whole_number(raw: list[str]) -> int | None:
    """The number when ``raw`` is one string of ASCII digits (huge ones capped)."""
    return whole_number(raw[0], cap=_LARGEST_PAGE) if len(raw) == 1 else None


def _page_size_schema(largest: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": largest}


def _typed(
    parameters: list[dict[str, Any]], schemas: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The paginator's query parameters with the schemas their checks enforce."""
    for parameter in parameters:
        if parameter["name"] in schemas:
            parameter["schema"] = schemas[parameter["name"]]
    return parameters


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
        return _typed(
            super().get_schema_operation_parameters(view),
            {
                self.page_size_query_param: _page_size_schema(self.max_page_size),
                self.page_query_param: {"type": "integer", "minimum": 1},
            },
        )


class StableCursorPagination(CursorPagination):
    """An opaque cursor over the primary key, newest first: rows inserted while a
    client walks the pages land before its first page, never inside the walk, so no
    row is seen twice or skipped. A cursor that is not one of ours is a 400."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    cursor_query_description = (
        "The opaque cursor from the previous page's next or previous link."
    )

    def get_page_size(self, request: Any) -> int:
        return StandardPagination.get_page_size(self, request)  # type: ignore[arg-type]

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return _typed(
            super().get_schema_operation_parameters(view),
            {
                self.page_size_query_param: _page_size_schema(self.max_page_size),
                self.cursor_query_param: {"type": "string", "pattern": _CURSOR_PATTERN},
            },
        )

    def decode_cursor(self, request: Any) -> Any:
        raw = request.query_params.getlist(self.cursor_query_param)
        if len(raw) > 1:
            raise ValidationError({self.cursor_query_param: ["Give one cursor."]})
        if raw and not _CURSOR.fullmatch(raw[0]):
            raise ValidationError(
                {self.cursor_query_param: ["Not a cursor of this list."]}
            )
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError(
                {
                    self.cursor_query_param: [
                        "Not a cursor of this list: use the next or previous link "
                        "of a page as it is."
                    ]
                }
            ) from None


class PageOrCursorPagination(StandardPagination):
    """Page numbers (``page``, for people and the UI) or, with ``cursor`` (empty for
    the first page), a cursor that does not drift while decisions arrive."""

    cursor_param = "cursor"

    def _cursor(self, request: Any) -> bool:
        return self.cursor_param in request.query_params

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        if self._cursor(request):
            if self.page_query_param in request.query_params:
                raise ValidationError(
                    {self.cursor_param: ["Use page or cursor, not both."]}
                )
            self._by_cursor: StableCursorPagination | None = StableCursorPagination()
            return self._by_cursor.paginate_queryset(queryset, request, view)
        self._by_cursor = None
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Any:
        if getattr(self, "_by_cursor", None) is not None:
            return self._by_cursor.get_paginated_response(data)  # type: ignore[union-attr]
        return super().get_paginated_response(data)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        paged = super().get_paginated_response_schema(schema)
        paged["required"] = ["results"]
        paged["properties"]["count"]["description"] = "Total rows (page numbers only)."
        return paged

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.cursor_param,
                "required": False,
                "in": "query",
                "description": "Cursor pagination instead of page numbers: empty for "
                "the first page, then the next link's cursor (stable while rows "
                "arrive).",
                "schema": {"type": "string", "pattern": _CURSOR_PATTERN},
            },
        ]
