"""The demo models, trained once per session for every dossier test module."""

from __future__ import annotations

from typing import Any

import pytest

from demo.train import DEMOS, build_artefacts


@pytest.fixture(scope="session")
def demo_artefacts() -> dict[str, tuple[bytes, dict[str, Any]]]:
    return {name: build_artefacts(definition) for name, definition in DEMOS.items()}
