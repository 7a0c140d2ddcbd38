"""Settings for the test suite: fast hashing, isolated media, same database rules."""

from __future__ import annotations

import tempfile
from pathlib import Path

from config.settings.base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-secret-key"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="inspectoscope-test-media-"))
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
