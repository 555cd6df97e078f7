"""Settings for ITB Clinic, read from the environment (spec section 6).

The zero-setup demo runs on SQLite; production and the tests run on PostgreSQL.
Every clinic-tunable clinical threshold lives in ``CLINIC`` so that it is one place
to review, and ``spasticity.clinic`` turns it into typed settings objects.
"""

from datetime import timedelta
from pathlib import Path

import django_stubs_ext
import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF

from spasticity.security import secret_key, transport_settings

# Lets generic views be subscripted (CreateView[Model, Form]) for the type checker.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# With DEBUG off there is no default key: production refuses to start without one.
SECRET_KEY = secret_key(env("SECRET_KEY", default=""), debug=DEBUG)
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
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "spasticity",
    "patients",
    "trials",
    "pumps",
    "alerts",
    "access_log",
    "interop",
    "imports",
    "appointments",
    "devices",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise (static files stay cacheable), before the rest: it sees every other response.
    "spasticity.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Django's LoginRequiredMiddleware, answering htmx with a 401 rather than the login page.
    "spasticity.session_guard.HtmxLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "spasticity.middleware.IdleSessionTimeoutMiddleware",
    "spasticity.two_factor.TwoFactorRequiredMiddleware",
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
# A kept connection is checked before each request reuses it: after a PostgreSQL restart the
# first request on each gunicorn worker reconnects instead of failing with a 500.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
# A Redis that accepts connections and never answers (hung, failing over, a half-open NAT
# entry) must not hold a request: every Redis client here gives up after this many seconds.
REDIS_TIMEOUT_S = 1.5
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT_S, "socket_timeout": REDIS_TIMEOUT_S},
        }
    }

AUTHENTICATION_BACKENDS = [
    # django-axes must come first (stack.md gotcha 6).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Grants nothing: notes a refused clinic permission so the 403 page names the role needed.
    "spasticity.errors.RefusedPermissionBackend",
]
# A refused form token: a styled page, and a 403 JSON error that an htmx page retries.
CSRF_FAILURE_VIEW = "spasticity.errors.csrf_failure"
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
# The admin shows history but never reverts a record: a revert would skip the services' rules
# (and could un-void a record). spasticity.admin also refuses a POST to a version page.
SIMPLE_HISTORY_REVERT_DISABLED = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Idle sessions end after this many minutes without a request.
SESSION_IDLE_TIMEOUT_MINUTES = env.int("SESSION_IDLE_TIMEOUT_MINUTES", default=30)
# ...and any session this many hours after sign-in, however active (a self-saving page's
# keep-alive ping, spasticity.session_guard, extends the idle timeout only).
SESSION_ABSOLUTE_LIMIT_HOURS = env.int("SESSION_ABSOLUTE_LIMIT_HOURS", default=12)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_LIMIT_HOURS * 60 * 60
SESSION_COOKIE_HTTPONLY = True
# HTTPS only unless DEBUG or ALLOW_HTTP=true (a closed LAN without TLS): this sets SECURE_PROXY_SSL_HEADER,
# SECURE_SSL_REDIRECT, SECURE_HSTS_SECONDS (a year), SECURE_HSTS_INCLUDE_SUBDOMAINS and the Secure cookie flags.
ALLOW_HTTP = env.bool("ALLOW_HTTP", default=False)
globals().update(transport_settings(debug=DEBUG, allow_http=ALLOW_HTTP))
# No HSTS preload: that commits the hospital's whole domain to HTTPS in every browser, the domain owner's call.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.5  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Failures from one address across all usernames (spraying) lock that address out too
# (spasticity.login_limits). Higher than AXES_FAILURE_LIMIT: clinic staff often share one address.
AXES_HANDLER = "spasticity.login_limits.AddressLimitedAxesHandler"
LOGIN_FAILURES_PER_ADDRESS_LIMIT = env.int("LOGIN_FAILURES_PER_ADDRESS_LIMIT", default=30)
# The same client address as the access log: behind a reverse proxy (TRUSTED_PROXY_COUNT) it is not
# the proxy's own address, or every failure in the clinic would count against one address.
AXES_CLIENT_IP_CALLABLE = "access_log.recording.client_address"

# Two-factor sign-in (spasticity.two_factor): on by default in production, off in the demo.
REQUIRE_2FA = env.bool("REQUIRE_2FA", default=not DEBUG)

# API tokens (django-rest-knox, spasticity.api_tokens): a token ends after the same idle time as
# a page session (each use extends it, written at most once a minute); once API_TOKEN_MAX_HOURS old
# it is no longer extended, so it ends within the idle time. A password change or deactivation deletes them all.
REST_KNOX = {
    "TOKEN_TTL": timedelta(minutes=env.int("API_TOKEN_IDLE_MINUTES", default=SESSION_IDLE_TIMEOUT_MINUTES)),
    "AUTO_REFRESH": True,
    "AUTO_REFRESH_MAX_TTL": timedelta(hours=env.int("API_TOKEN_MAX_HOURS", default=10)),
    "MIN_REFRESH_INTERVAL": 60,
    "AUTH_HEADER_PREFIX": "Token",
}

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
# /favicon.ico (browsers ask for it whatever the page says) is served from here.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="itb-clinic@localhost")

# Text messages (spasticity.sms): "console" (the demo), "file" (one JSON line per message in
# SMS_FILE_PATH), "http" (a gateway: JSON {"to", "from", "text"} POSTed to SMS_HTTP_URL with
# SMS_HTTP_TOKEN as a bearer token), or the dotted path of a backend class.
SMS_BACKEND = env("SMS_BACKEND", default="console")
SMS_FILE_PATH = env("SMS_FILE_PATH", default=str(BASE_DIR / "sms-outbox.jsonl"))
SMS_HTTP_URL = env("SMS_HTTP_URL", default="")
SMS_HTTP_TOKEN = env("SMS_HTTP_TOKEN", default="")
SMS_HTTP_SENDER = env("SMS_HTTP_SENDER", default="ITBClinic")
SMS_HTTP_TIMEOUT_S = env.float("SMS_HTTP_TIMEOUT_S", default=10.0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "spasticity.api_session.VerifiedSessionAuthentication",
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
    # A filter by an id that names nothing lists nothing, rather than a 400 (spasticity.api_filters).
    "DEFAULT_FILTER_BACKENDS": ["spasticity.api_filters.ClinicFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # ISO 8601 (YYYY-MM-DD): unlike strftime's %Y, it pads a year before 1000 to four digits.
    "DATE_FORMAT": "iso-8601",
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
    # reliable_transport and plans_to_move share one choice set: one enum in the schema.
    "ENUM_NAME_OVERRIDES": {"YesNoUnknownEnum": "patients.models.YesNoUnknown"},
    # What every view shares (its error answers, JSON bodies, …), documented in one place.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "spasticity.api_schema.complete_schema",
    ],
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
# A page that queues a job must not hang when Redis is down or hung (alerts.jobs.task_enqueue):
# short connect and read timeouts, and no reconnect loop when the web process publishes
# (task_enqueue also publishes with retry=False). The worker's own reconnects are
# unaffected: they follow broker_connection_retry and broker_connection_max_retries.
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_TIMEOUT_S
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
    "socket_connect_timeout": REDIS_TIMEOUT_S,
    # Longer than kombu's 1 s BRPOP wait, which a healthy Redis always answers in time.
    "socket_timeout": REDIS_TIMEOUT_S,
    "max_retries": 0,
}
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
    # Deletes access log rows past ACCESS_LOG_RETENTION_DAYS (access_log.services.access_log_purge).
    "access-log-purge-daily": {"task": "access_log.purge", "schedule": crontab(hour=3, minute=30)},
    # Appointment reminders to families (appointments.reminders), at a civil hour for a text message.
    "appointment-reminders-daily": {"task": "appointments.reminders_send", "schedule": crontab(hour=10, minute=0)},
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
    # Programming safety (spec section 9). REQUIRE_PROGRAMMER_CHECK: refills and dose changes
    # must carry the programmer's alarm date, reservoir volume and daily dose. SECOND_CHECK:
    # "on_change" (a concentration change, a dose change above DOSE_CHANGE_CONFIRM_PERCENT, a
    # dose above DOSE_CONFIRM_ABOVE_MCG), "always" or "off"; unchecked after SECOND_CHECK_HOURS
    # raises second_check_missing. The page makes the user retype a new dose that changes by
    # more than DOSE_CHANGE_HARD_PERCENT; a typed confirmation reason needs CONFIRMATION_REASON_MIN_CHARS.
    "REQUIRE_PROGRAMMER_CHECK": env.bool("REQUIRE_PROGRAMMER_CHECK", default=False),
    "SECOND_CHECK": env("SECOND_CHECK", default="on_change"),
    "SECOND_CHECK_HOURS": env.int("SECOND_CHECK_HOURS", default=24),
    "DOSE_CHANGE_HARD_PERCENT": "50",
    "CONFIRMATION_REASON_MIN_CHARS": 10,
    "TITRATION_ENDS_AFTER_DAYS_WITHOUT_CHANGE": 60,
    "REFILL_DUE_SOON_DAYS": 14,
    "BATTERY_WARNING_DAYS": 180,
    "MAX_SNOOZE_DAYS": 30,
    # The daily jobs (alert scan, projections refresh) work in chunks of this many pump
    # ids, one transaction and one Celery task each, spread across the workers.
    "SCAN_CHUNK_PUMPS": env.int("SCAN_CHUNK_PUMPS", default=2000),
    # Appointments (spec section 7): a refill is booked from refill_due_on minus this many days
    # to refill_due_on; a watched pump due within REFILL_NOT_BOOKED_DAYS with no booked refill is
    # flagged; families are reminded this many days before, and again on the day before.
    "REFILL_BOOKING_WINDOW_DAYS": 14,
    "REFILL_NOT_BOOKED_DAYS": env.int("REFILL_NOT_BOOKED_DAYS", default=30),
    "APPOINTMENT_REMINDER_DAYS_BEFORE": env.int("APPOINTMENT_REMINDER_DAYS_BEFORE", default=3),
}
# The name authenticator apps show beside the username.
OTP_TOTP_ISSUER = CLINIC["NAME"]

# FHIR export (interop): the clinic's own URIs. MRN_SYSTEM names the clinic's medical record
# numbers (Patient.identifier.system); SYSTEM_BASE prefixes the clinic's local CodeSystems and
# extensions, and seeds the export's stable resource ids, so two clinics never mint the same id.
FHIR = {
    "MRN_SYSTEM": env("FHIR_MRN_SYSTEM", default="https://itb-clinic.example/fhir/sid/mrn"),
    "SYSTEM_BASE": env("FHIR_SYSTEM_BASE", default="https://itb-clinic.example/fhir"),
}

# The access log (who opened which patient's record) is kept this many days, then deleted
# by the daily purge; 2920 days = 8 years, a common retention period for audit trails.
ACCESS_LOG_RETENTION_DAYS = env.int("ACCESS_LOG_RETENTION_DAYS", default=2920)
# How many reverse proxies (e.g. the Caddy in docker-compose.yml) stand in front of gunicorn.
# 0: the client's address is REMOTE_ADDR and X-Forwarded-For is ignored (it is client-supplied);
# N: it is the Nth entry from the right of X-Forwarded-For (access_log.recording.client_address).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
