"""Which language a notice is written in, and numbers and dates as that language
writes them."""

from __future__ import annotations

import math
from datetime import date

from django.conf import settings
from django.utils.translation.trans_real import parse_accept_lang_header

from compliance.errors import ValidationFailed

DEFAULT_LANGUAGE = "en"


def notice_languages() -> tuple[str, ...]:
    """The languages notices are written in (``settings.NOTICE_LANGUAGES``)."""
    return tuple(settings.NOTICE_LANGUAGES)


def notice_language(requested: str | None, accept_language: str | None = "") -> str:
    """The language asked for: ``requested`` (``?lang=`` or the body's ``lang``) when
    given, which must be one we write (400 otherwise); else the first of the
    ``Accept-Language`` header's languages we write; else English."""
    languages = notice_languages()
    if requested:
        code = requested.strip().lower()
        if code not in languages:
            raise ValidationFailed(
                f"Notices are written in {', '.join(languages)}; not in "
                f"{requested[:20]!r}.",
                {"lang": [f"Must be one of: {', '.join(languages)}."]},
            )
        return code
    for code, _quality in parse_accept_lang_header(accept_language or ""):
        base = code.lower().split("-", 1)[0]
        if base in languages:
            return base
    return DEFAULT_LANGUAGE


def number_text(value: float, language: str) -> str:
    """A number as people of ``language`` write it: no decimals when whole, at most
    two otherwise; thousands grouped (4,870 / 4.870; 1.5 / 1,5)."""
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    text = f"{number:,.0f}" if number.is_integer() else f"{number:,.2f}".rstrip("0")
    if language == "de":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


_MONTHS_DE = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)


def date_text(day: date, language: str) -> str:
    """``2 December 2026`` / ``2. Dezember 2026``."""
    if language == "de":
        return f"{day.day}. {_MONTHS_DE[day.month - 1]} {day.year}"
    return f"{day.day} {day:%B} {day.year}"
