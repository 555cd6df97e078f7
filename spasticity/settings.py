"""Settings for ITB Clinic, read from the environment (spec section 6).

The zero-setup demo runs on SQLite; production and the tests run on PostgreSQL.
Every clinic-tunable clinical threshold lives in ``CLINIC`` so that it is one place
to review, and ``spasticity.clinic`` turns it into typed settings objects.
"""

from pathlib import Path

import django_stubs_ext
import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF

# Lets generic views be subscripted (CreateView[Model, Form]) for the type checker.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="insecure-demo-key-change-me-in-production-0123456789")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "simple_history",
    "axes",
    "csp",
    "spasticity",
    "patients",
    "trials",
    "pumps",
    "alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "spasticity.middleware.IdleSessionTimeoutMiddleware",
    "spasticity.middleware.ClinicRoleRequiredMiddleware",
    # django-axes must come last (stack.md gotcha 6).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "spasticity.urls"
WSGI_APPLICATION = "spasticity.wsgi.application"

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
                "csp.context_processors.nonce",
                "spasticity.context_processors.roles",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'demo.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

AUTHENTICATION_BACKENDS = [
    # django-axes must come first (stack.md gotcha 6).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Idle sessions end after this many minutes without a request.
SESSION_IDLE_TIMEOUT_MINUTES = env.int("SESSION_IDLE_TIMEOUT_MINUTES", default=30)
SESSION_COOKIE_AGE = 12 * 60 * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG and bool(env("HTTPS", default="")))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.5  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        # Inline scripts run only with the per-request nonce; no 'unsafe-inline' anywhere.
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
    }
}

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env("TIME_ZONE", default="Europe/London")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if DEBUG:
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
WHITENOISE_USE_FINDERS = True

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="itb-clinic@localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["spasticity.api_permissions.RolePermission"],
    # JSON nested too deep is a 400, not a RecursionError (a 500).
    "DEFAULT_PARSER_CLASSES": [
        "spasticity.api_parsers.DepthLimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "spasticity.api_pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DATE_FORMAT": "%Y-%m-%d",
    "DATE_INPUT_FORMATS": ["%Y-%m-%d"],
    "COERCE_DECIMAL_TO_STRING": True,
    "EXCEPTION_HANDLER": "spasticity.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ITB Clinic API",
    "DESCRIPTION": "Case management for intrathecal baclofen pump services.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Serve Swagger UI from the installed package: clinic networks are often closed.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "redis://127.0.0.1:6379/0")
CELERY_TIMEZONE = TIME_ZONE
# Jobs (spec "Alerts and jobs"). Every task is idempotent, so a message is acknowledged
# only once the task has finished and is redelivered if the worker dies mid-task.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
# A page that queues a job must not hang when Redis is down (alerts.jobs.task_enqueue).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The static beat schedule, in clinic time (CELERY_TIMEZONE): the scan at 06:00, the
# nurses' digest after it, and the outbox retry every 10 minutes; before them, the pathway
# stages that change with time (titration ends after days without a dose change).
CELERY_BEAT_SCHEDULE = {
    "pathway-stages-daily": {"task": "patients.pathway_stages_refresh", "schedule": crontab(hour=5, minute=50)},
    # A safety net for a catalogue edit whose background recompute was lost with the broker.
    "projections-refresh-daily": {"task": "pumps.projections_refresh", "schedule": crontab(hour=5, minute=55)},
    "alert-scan-daily": {"task": "alerts.alert_scan", "schedule": crontab(hour=6, minute=0)},
    "nurse-digest-daily": {"task": "alerts.nurse_digest", "schedule": crontab(hour=6, minute=15)},
    "notifications-retry": {"task": "alerts.notifications_send", "schedule": crontab(minute="*/10")},
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Zero-setup demo without Redis: Kombu's folder queue (see spasticity/management/commands/run_demo.py).
    _BROKER_FOLDER = str(BASE_DIR / ".demo-broker")
    CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": _BROKER_FOLDER, "data_folder_out": _BROKER_FOLDER}

# Clinic settings: the tunable clinical rules (spec section 2). Defaults are the spec's.
CLINIC = {
    "NAME": env("CLINIC_NAME", default="ITB Clinic"),
    "PHONE": env("CLINIC_PHONE", default="+44 117 000 0000"),
    "OUT_OF_HOURS_PHONE": env("CLINIC_OUT_OF_HOURS_PHONE", default="+44 117 000 0999"),
    "MAS_GRADE_VALUES": {"0": "0", "1": "1", "1+": "1.5", "2": "2", "3": "3", "4": "4"},
    "TRIAL_POSITIVE_THRESHOLD": "1.0",
    "TRIAL_NEGATIVE_AFTER_MINUTES": 240,
    "REFILL_LEAD_DAYS": 7,
    "MAX_REFILL_INTERVAL_DAYS": 180,
    "DELIVERY_DEVIATION_THRESHOLD_PERCENT": "14.5",
    "DOSE_CHANGE_CONFIRM_PERCENT": "20",
    "DOSE_CONFIRM_ABOVE_MCG": "1000",
    "TITRATION_ENDS_AFTER_DAYS_WITHOUT_CHANGE": 60,
    "REFILL_DUE_SOON_DAYS": 14,
    "BATTERY_WARNING_DAYS": 180,
    "MAX_SNOOZE_DAYS": 30,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
