"""Settings for the test suite: fast hashing, isolated media, same database rules."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from config.settings.base import *  # noqa: F403
from config.settings.base import DATABASES, REDIS_URL, REST_FRAMEWORK, celery_broker

DEBUG = False
SECRET_KEY = "test-secret-key"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Worker subprocesses started by tests share these through the environment.
MEDIA_ROOT = Path(
    os.environ.get("MEDIA_ROOT") or tempfile.mkdtemp(prefix="inspectoscope-test-media-")
)
BROKER_DIR = Path(
    os.environ.get("INSPECTOSCOPE_BROKER_DIR")
    or tempfile.mkdtemp(prefix="inspectoscope-test-broker-")
)
CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = celery_broker(
    REDIS_URL, BROKER_DIR
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # a file, not :memory:, so a worker subprocess can open the test database
    DATABASES["default"]["TEST"] = {
        "NAME": str(
            Path(tempfile.gettempdir()) / f"inspectoscope-test-{os.getpid()}.sqlite3"
        )
    }
JOB_LEASE_SECONDS = int(os.environ.get("JOB_LEASE_SECONDS", "120"))
JOB_BACKOFF_SECONDS = int(os.environ.get("JOB_BACKOFF_SECONDS", "0"))
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

# Tests share one process-wide cache; limits are exercised by tests that lower them.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        "api_key": None,
        "person": None,
        "anonymous": None,
        "public_verify": None,
    },
}
LOGIN_ATTEMPTS_PER_MINUTE = 10_000

# --- Audit chains (issue 12, parts 1-3): a fixed, committed test key (not a secret) ---
AUDIT_HMAC_KEY_FILE = str(
    Path(__file__).resolve().parents[2] / "tests/compliance/audit/test-hmac.key"
)
AUDIT_HMAC_RETIRED_KEY_FILES = []
AUDIT_HMAC_KEY_AUTOCREATE = False
# --- end of audit chains ---

# --- Sign-in limits (issue 13, item 1): exercised by tests that lower them ---
LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR = 10_000
# --- end of sign-in limits ---

# thousands of registrations in the tests: built in-process (tests/compliance/platform/
# test_model_check_isolated.py turns the child process on)
MODEL_CHECK_ISOLATED = False
