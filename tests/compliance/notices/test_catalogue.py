"""The German catalogue is complete and compiled: every message has a translation,
and the .mo the app loads says what the .po says (a string changed without
``compilemessages`` fails here)."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

from django.conf import settings

PO = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")


def _unquote(lines: str) -> str:
    joined = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', lines))
    return joined.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def _entries() -> dict[str, str]:
    text = PO.read_text()
    pairs = re.findall(
        r'^msgid ((?:".*"\n)+)msgstr ((?:".*"\n?)+)', text, flags=re.MULTILINE
    )
    return {_unquote(i): _unquote(s) for i, s in pairs if _unquote(i)}


def test_every_message_is_translated() -> None:
    entries = _entries()
    assert len(entries) > 50
    assert [msgid for msgid, german in entries.items() if not german] == []
    assert "#, fuzzy" not in PO.read_text()


def test_the_compiled_catalogue_matches_the_source() -> None:
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for msgid, german in _entries().items():
        assert compiled.gettext(msgid) == german, msgid
