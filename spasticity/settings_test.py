"""Test settings: PostgreSQL and Redis for real, fast hashing, plain static storage."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/spasticity")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
# Production refuses to start without a key; the test client speaks plain HTTP unless told
# secure=True (tests/test_security_settings.py applies production's HTTPS-only settings).
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("ALLOW_HTTP", "true")

from spasticity.settings import *  # noqa: F403
from spasticity.settings import env

DATABASES = {"default": env.db("DATABASE_URL")}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# live_server serves unhashed files through the finders (stack.md gotcha 4).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
AXES_ENABLED = True
# Two-factor sign-in is tested where it matters (tests/test_two_factor.py, with override_settings).
REQUIRE_2FA = False
