"""Settings shared by every environment. Everything comes from environment variables."""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from config.settings.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    url_with_password,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(env_str("INSPECTOSCOPE_DATA_DIR", str(BASE_DIR / ".data")) or ".data")

SECRET_KEY = env_str("SECRET_KEY", "insecure-local-development-key-not-for-production")
DEBUG = False
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "compliance",
    "workers.apps.WorkersConfig",
]

MIDDLEWARE = [
    "compliance.platform.observability.RequestObservabilityMiddleware",
    "compliance.platform.middleware.RequestBodyLimitMiddleware",
    "compliance.platform.middleware.NoStoreMiddleware",
    # before CommonMiddleware: no slash redirect under /api/
    "compliance.platform.middleware.ApiNotFoundMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

# No inline or third-party scripts anywhere (the Swagger page at /api/docs/ included:
# it loads its init script from /api/docs/?script=). Inline style attributes stay allowed
# for the Django admin; charts are SVG elements drawn by our code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "libraries": {"dossier_format": "compliance.dossiers.templatetags"},
        },
    },
]


def _database_from_env() -> dict:
    default_sqlite = f"sqlite:///{DATA_DIR / 'inspectoscope.sqlite3'}"
    # a password from DATABASE_PASSWORD(_FILE) is put into the URL (compose secrets)
    url = (
        url_with_password(env_str("DATABASE_URL"), env_str("DATABASE_PASSWORD"))
        or default_sqlite
    )
    config = dj_database_url.parse(url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # IMMEDIATE transactions serialise writers up front, so the audit chain's
        # read-last-then-append never races into "database is locked".
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 30}
    elif env_bool("DB_PREPARED_STATEMENTS", True):
        # Server-side binding lets psycopg prepare a statement after its 5th run on a
        # connection: PostgreSQL then stops re-planning the submission path's lookups
        # (the API key join: 200-330 us of server CPU per request, 40-67 us prepared).
        # Turn off behind a transaction-pooling PgBouncer, which cannot keep them.
        # added to, not replacing, what DATABASE_URL carries (sslmode, sslrootcert, ...)
        config.setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=5
        )
    return dict(config)


DATABASES = {"default": _database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# Redis with AUTH: REDIS_PASSWORD(_FILE) is put into the URL (compose secrets)
REDIS_URL = url_with_password(env_str("REDIS_URL"), env_str("REDIS_PASSWORD")) or None
METRICS_TOKEN = env_str("METRICS_TOKEN") or None  # GET /metrics with "Bearer <token>"

# Throttle counters and login attempts live in a cache every process shares: Redis when
# configured (production), else this process's memory (one-process local use). Short
# socket timeouts: when Redis is away the limits fail open rather than hold requests.
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
LOGIN_ATTEMPTS_PER_MINUTE = env_int("LOGIN_ATTEMPTS_PER_MINUTE", 10)


# --- Celery: the job table is the source of truth; messages only wake workers ----------
# Without REDIS_URL the embedded default is a real worker on Kombu's filesystem transport.
def celery_broker(redis_url: str | None, broker_dir: Path) -> tuple[str, dict]:
    """Broker URL and transport options: Redis, or folders for the filesystem transport."""
    if redis_url:
        return redis_url, {
            "visibility_timeout": 3600,  # longer than the hard time limit
            # a producer facing a dead broker gives up fast (the sweeper re-wakes)
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        }
    return "filesystem://", {
        "data_folder_in": str(broker_dir / "messages"),
        "data_folder_out": str(broker_dir / "messages"),
        "processed_folder": str(broker_dir / "processed"),
        "control_folder": str(broker_dir / "control"),  # not the working directory
        "store_processed": False,
    }


BROKER_DIR = Path(env_str("INSPECTOSCOPE_BROKER_DIR", str(DATA_DIR / "broker")) or ".")
CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = celery_broker(
    REDIS_URL, BROKER_DIR
)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# results are stored in the database; a backend is only for tools (bench/pipeline.py)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# publishing must not hang a web request when the broker is away: the sweeper re-wakes
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_DEFAULT_QUEUE = "attributions"
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# jobs of every kind: lease length (renewed while a job reports progress; longer than
# any task's hard time limit), attempts before a job fails, base of the exponential
# back-off before a released or reclaimed job is claimed again
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 120)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 5)
JOB_BACKOFF_SECONDS = env_int("JOB_BACKOFF_SECONDS", 2)
# explanation jobs of one model version claimed per batch
EXPLANATION_BATCH_SIZE = env_int("EXPLANATION_BATCH_SIZE", 256)
SWEEP_INTERVAL_SECONDS = env_int("SWEEP_INTERVAL_SECONDS", 15)

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
# the languages people read notices in (compliance.notices); Django's own catalogues
# and ours (locale/) are used for them
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
NOTICE_LANGUAGES = ("en", "de")
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")) or DATA_DIR / "media")
MEDIA_URL = "/media/"  # never served directly: weights and dossiers go through views

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Request bodies: decisions are small; model weights uploads may be larger.
REQUEST_BODY_MAX_BYTES = env_int("REQUEST_BODY_MAX_BYTES", 1024 * 1024)
MODEL_UPLOAD_MAX_BYTES = env_int("MODEL_UPLOAD_MAX_BYTES", 64 * 1024 * 1024)
# An uploaded model is built and checked in a child process, never in the web worker:
# with this address-space limit (torch itself maps ~0.7 GiB) and this wall-clock time
# (compliance/registry/model_check.py). Off only where registrations are many and
# trusted (the test settings).
MODEL_CHECK_ISOLATED = env_bool("MODEL_CHECK_ISOLATED", True)
MODEL_CHECK_MEMORY_BYTES = env_int("MODEL_CHECK_MEMORY_BYTES", 3 * 1024**3)
MODEL_CHECK_TIMEOUT_SECONDS = env_int("MODEL_CHECK_TIMEOUT_SECONDS", 60)
# ONNX models (issue 18): the smoke run on the baseline row at registration, and each
# batch a worker runs in onnxruntime, are stopped after these many seconds
ONNX_SMOKE_SECONDS = env_int("ONNX_SMOKE_SECONDS", 5)
ONNX_BATCH_SECONDS = env_int("ONNX_BATCH_SECONDS", 60)
# The largest file any dossier verification (API, public API, both web pages) accepts:
# a bit above the largest dossier we issue. Bodies above it are refused (413) before
# they are read; uploads are hashed in chunks, never read whole.
DOSSIER_VERIFY_MAX_BYTES = env_int("DOSSIER_VERIFY_MAX_BYTES", 5 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES
# --- explanation cost (issue 13, item 3): model evaluations per decision (explain.cost) ---
# The default budget of one explanation request: every method at its default
# parameters, all in one request on a 500-feature schema, fits; the default request
# (Integrated Gradients) costs about 24,000. An AI system may set its own
# (AISystem.explanation_cost_budget), never above the maximum.
EXPLANATION_COST_BUDGET = env_int("EXPLANATION_COST_BUDGET", 500_000)
EXPLANATION_COST_BUDGET_MAX = env_int("EXPLANATION_COST_BUDGET_MAX", 5_000_000)
# --- end explanation cost ---
# --- monitoring (issue 16): levels at which the dashboard raises an alert ---
# a review is late when the case waited longer than this since it was received
REVIEW_SLA_HOURS = env_int("REVIEW_SLA_HOURS", 72)
# rubber-stamping: blind-first agreement with the model at or above this share while
# the override rate is at most MONITORING_NEAR_ZERO_OVERRIDES, over at least
# MONITORING_MIN_REVIEWS reviews in the month
MONITORING_RUBBER_STAMP_AGREEMENT = env_float("MONITORING_RUBBER_STAMP_AGREEMENT", 0.95)
MONITORING_NEAR_ZERO_OVERRIDES = env_float("MONITORING_NEAR_ZERO_OVERRIDES", 0.02)
MONITORING_MIN_REVIEWS = env_int("MONITORING_MIN_REVIEWS", 20)
# review times collapse: a reviewer's median below this many seconds, or below this
# share of their own median over the months before
MONITORING_MIN_REVIEW_SECONDS = env_int("MONITORING_MIN_REVIEW_SECONDS", 20)
MONITORING_REVIEW_TIME_COLLAPSE = env_float("MONITORING_REVIEW_TIME_COLLAPSE", 0.5)
# fairness: adverse impact ratio under this raises an alert (the four-fifths rule);
# groups smaller than FAIRNESS_MIN_GROUP are shown but nothing is concluded
FAIRNESS_ALERT_RATIO = env_float("FAIRNESS_ALERT_RATIO", 0.8)
FAIRNESS_MIN_GROUP = env_int("FAIRNESS_MIN_GROUP", 30)
FAIRNESS_BOOTSTRAP_RESAMPLES = env_int("FAIRNESS_BOOTSTRAP_RESAMPLES", 2000)
# how often the worker's beat records the alerts the figures raise
MONITORING_ALERT_INTERVAL_SECONDS = env_int("MONITORING_ALERT_INTERVAL_SECONDS", 3600)
# --- end monitoring ---
# --- webhooks (issue 17 item 2) ---
# Outbound deliveries never go to private, loopback, link-local or otherwise
# non-public addresses, unless the target is listed here as "host:port" (or "host" for
# any port): e.g. "127.0.0.1:8787" for the demo's receiver. Plain http only to these.
WEBHOOK_ALLOWED_TARGETS = env_list("WEBHOOK_ALLOWED_TARGETS", [])
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0)
# retries: exponential back-off from the base, capped, with jitter (each wait is a
# random share from half to all of it), for this long after the event
WEBHOOK_BACKOFF_BASE_SECONDS = env_float("WEBHOOK_BACKOFF_BASE_SECONDS", 30.0)
WEBHOOK_BACKOFF_MAX_SECONDS = env_float("WEBHOOK_BACKOFF_MAX_SECONDS", 3600.0)
WEBHOOK_RETRY_WINDOW_SECONDS = env_int("WEBHOOK_RETRY_WINDOW_SECONDS", 24 * 3600)
# an endpoint that failed every attempt for this long (and at least
# WEBHOOK_DISABLE_MIN_FAILURES times in a row) is disabled, audited
WEBHOOK_DISABLE_AFTER_SECONDS = env_int("WEBHOOK_DISABLE_AFTER_SECONDS", 24 * 3600)
WEBHOOK_DISABLE_MIN_FAILURES = env_int("WEBHOOK_DISABLE_MIN_FAILURES", 5)
WEBHOOK_MAX_ENDPOINTS = env_int("WEBHOOK_MAX_ENDPOINTS", 20)  # per organisation
# --- end webhooks ---
FILE_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "compliance.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["compliance.api.permissions.PolicyAllowsMethod"],
    "DEFAULT_PARSER_CLASSES": [
        "compliance.api.parsers.StrictJSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "compliance.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "compliance.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "compliance.platform.throttles.ApiKeyRateThrottle",
        "compliance.platform.throttles.PersonRateThrottle",
        "compliance.platform.throttles.AnonymousRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "api_key": env_str("THROTTLE_API_KEY", "30000/min"),
        "person": env_str("THROTTLE_PERSON", "600/min"),
        "anonymous": env_str("THROTTLE_ANONYMOUS", "60/min"),
        # the unauthenticated dossier verification (page and API), per client IP
        "public_verify": env_str("THROTTLE_PUBLIC_VERIFY", "20/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Inspectoscope API",
    "DESCRIPTION": (
        "System of record for high-risk AI decisions: submit decisions, request "
        "explanations, review and issue dossiers. Client systems authenticate with "
        "`Authorization: Api-Key <key>`."
    ),
    "VERSION": "1.0.0",
    # 3.1: schemas are JSON Schema 2020-12, so the feature schema's JSON Schema is
    # published exactly as the engine validates with it
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # one name per choice set (a generated client's enum classes)
    "ENUM_NAME_OVERRIDES": {
        "WebhookDeliveryStatusEnum": "compliance.models.webhooks.WebhookDelivery.Status",
        "JobStatusEnum": "compliance.models.jobs.Job.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        # every POST takes an Idempotency-Key (compliance/platform/idempotency.py)
        "compliance.platform.idempotency.document_idempotency_key",
        # last: every response of every operation gets its schema and headers
        "compliance.api.schema.add_error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "compliance.platform.observability.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # WeasyPrint's progress steps and fontTools' subsetting notes are not our logs
    "loggers": {
        "weasyprint": {"level": "WARNING"},
        "weasyprint.progress": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- Signed dossiers, RFC 3161 timestamps, public verification (issue 12, 6-8) ---
# Dossiers are signed (PAdES B-LT) in the worker with a PKCS#12: the organisation's own
# ``<slug>.p12`` (password in ``<slug>.p12.password``) under DOSSIER_SIGNING_DIR when
# present, else DOSSIER_SIGNING_PKCS12_FILE with DOSSIER_SIGNING_PKCS12_PASSWORD_FILE.
# `make demo` writes a demo PKI under .data/pki/ (python -m demo.pki).
DOSSIER_SIGNING_DIR = Path(
    env_str("DOSSIER_SIGNING_DIR", str(DATA_DIR / "pki" / "signing")) or "."
)
DOSSIER_SIGNING_PKCS12_FILE = env_str("DOSSIER_SIGNING_PKCS12_FILE") or None
DOSSIER_SIGNING_PKCS12_PASSWORD_FILE = (
    env_str("DOSSIER_SIGNING_PKCS12_PASSWORD_FILE") or None
)
# Time Stamping Authority (RFC 3161); unset = no timestamp. TSA_CA_CERT_FILE is the
# trust root (PEM) its tokens are verified against.
TSA_URL = env_str("TSA_URL") or None
TSA_CA_CERT_FILE = env_str("TSA_CA_CERT_FILE") or None
TSA_TIMEOUT_SECONDS = env_int("TSA_TIMEOUT_SECONDS", 10)
# Where a dossier tells its reader to verify it (printed in every dossier).
DOSSIER_VERIFY_URL = env_str("DOSSIER_VERIFY_URL", "http://127.0.0.1:8000/verify/")

# --- dossier rendering (issue 13 item 2) ---
# HTML -> PDF runs in a child process killed after this many seconds (well inside the
# dossiers task's 60 s soft time limit and the 120 s job lease); the job then fails
# with a true message instead of the worker being killed and the job retried.
DOSSIER_RENDER_TIMEOUT_SECONDS = float(
    env_str("DOSSIER_RENDER_TIMEOUT_SECONDS", "30") or "30"
)
# --- end dossier rendering ---
# Idempotency-Key on every API POST: the first response to a caller's key is kept
# this long and replayed for the same request (another request with it: 409).
IDEMPOTENCY_KEY_TTL_SECONDS = env_int("IDEMPOTENCY_KEY_TTL_SECONDS", 24 * 3600)
MIDDLEWARE = [*MIDDLEWARE, "compliance.platform.idempotency.IdempotencyKeyMiddleware"]
# --- end of signed dossiers ---

# --- Audited administration (issue 12, part 4) ---
# Every saved password change is an audit event: Django calls each validator's
# ``password_changed`` hook after saving a new password.
AUTH_PASSWORD_VALIDATORS = [
    *AUTH_PASSWORD_VALIDATORS,
    {"NAME": "compliance.tenancy.passwords.PasswordChangeAudit"},
]
# --- end of audited administration ---

# --- Audit chains and anchors (issue 12, parts 1-3) ---
# The chains' HMAC key lives in a file the database never holds; keys of earlier events
# stay listed (comma-separated paths) after a rotation so they still verify. Local and
# demo settings create a missing key file; production requires it
# (AUDIT_HMAC_KEY_AUTOCREATE=0 there).
AUDIT_HMAC_KEY_FILE = env_str("AUDIT_HMAC_KEY_FILE") or str(DATA_DIR / "audit-hmac.key")
AUDIT_HMAC_RETIRED_KEY_FILES = env_list("AUDIT_HMAC_RETIRED_KEY_FILES", [])
AUDIT_HMAC_KEY_AUTOCREATE = env_bool("AUDIT_HMAC_KEY_AUTOCREATE", True)
# Chain heads are anchored (RFC 3161 token from TSA_URL when set) by Celery beat this
# often, and on demand by `manage.py audit_anchor`.
AUDIT_ANCHOR_INTERVAL_SECONDS = env_int("AUDIT_ANCHOR_INTERVAL_SECONDS", 3600)
# --- end of audit chains ---

# --- Sign-in, two-factor, sessions and passwords (issue 13, item 1 and "Also") ---
# Failed sign-in attempts (passwords and two-factor tokens; successes do not count),
# keyed on the normalised username: LOGIN_ATTEMPTS_PER_MINUTE per address and account,
# and LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR per account from any address (ASVS 2.2.1).
LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR = env_int(
    "LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", 100
)
# TOTP two-factor authentication (django-otp): required for platform superusers and
# organisation admins, optional for everyone else.
INSTALLED_APPS = [*INSTALLED_APPS, "django_otp", "django_otp.plugins.otp_totp"]
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Inspectoscope")
# A session ends after this long without a request, besides SESSION_COOKIE_AGE.
SESSION_IDLE_TIMEOUT_SECONDS = env_int("SESSION_IDLE_TIMEOUT_SECONDS", 30 * 60)
_AUTH_AT = (
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1
)
MIDDLEWARE = [
    *MIDDLEWARE[:_AUTH_AT],
    "compliance.web.sessions.IdleTimeoutMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "compliance.web.two_factor.TwoFactorMiddleware",
    *MIDDLEWARE[_AUTH_AT:],
]
# ASVS 2.1.1: passwords of at least 12 characters
AUTH_PASSWORD_VALIDATORS = [
    {
        **validator,
        **(
            {"OPTIONS": {"min_length": 12}}  # type: ignore[dict-item]
            if validator["NAME"].endswith(".MinimumLengthValidator")
            else {}
        ),
    }
    for validator in AUTH_PASSWORD_VALIDATORS
]
# --- end of sign-in ---

# --- jobs: fair claims and database outages (issue 13, items 3 and 10) ---
# Leases (worker batches) of one kind one organisation may hold at once; 0: no cap
# (organisations take turns either way: fewest leases in flight, then longest unserved).
JOB_ORG_MAX_LEASES = env_int("JOB_ORG_MAX_LEASES", 0)
# A task that met a transient database error runs again after 1, 2, 4, 8 s, then every
# this many seconds while the database is away.
JOB_TRANSIENT_RETRY_MAX_SECONDS = env_int("JOB_TRANSIENT_RETRY_MAX_SECONDS", 10)
# A database that does not answer fails a connection attempt after this many seconds
# (workers retry; the API answers an error) instead of hanging on the TCP timeout.
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5)
    )
# --- end of jobs ---
