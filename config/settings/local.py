"""Local development and `make demo`: SQLite under .data/, debug on, loopback only."""

from __future__ import annotations

from config.settings.base import *  # noqa: F403
from config.settings.base import DATA_DIR, REST_FRAMEWORK
from config.settings.env import env_bool

DEBUG = env_bool("DEBUG", True)
DATA_DIR.mkdir(parents=True, exist_ok=True)
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
