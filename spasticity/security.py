"""Production's key and transport settings, decided in one place (spec section 10).

``settings.py`` applies them from the environment; the tests apply the same functions, so
what they check is what production sends.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

HSTS_ONE_YEAR_S = 365 * 24 * 60 * 60
# Only ever used with DEBUG on (a developer's machine), never for a clinic.
DEVELOPMENT_SECRET_KEY = "insecure-development-key-for-DEBUG-only-0123456789abcdef"


def secret_key(configured: str, *, debug: bool) -> str:
    """The configured ``SECRET_KEY``; with DEBUG off there is no fallback.

    A default key is public (it is in this repository), and with it anyone can forge a
    signed-in session, so production refuses to start rather than run with it.
    """
    if configured:
        return configured
    if debug:
        return DEVELOPMENT_SECRET_KEY
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. With DEBUG off (production) ITB Clinic refuses to start without one: "
        "put a long random value in SECRET_KEY, for example from "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
    )


def transport_settings(*, debug: bool, allow_http: bool) -> dict[str, Any]:
    """HTTPS only (redirect, HSTS, ``Secure`` cookies), unless DEBUG is on or ``ALLOW_HTTP`` is set.

    The proxy in front (Caddy in docker-compose.yml) terminates TLS and always sets
    ``X-Forwarded-Proto``, overwriting whatever a client sent, so Django can trust it.
    ``ALLOW_HTTP`` is for a closed LAN with no TLS at all: there, a ``Secure`` cookie
    would never come back and the redirect would point at a port nobody serves.
    """
    https_only = not debug and not allow_http
    return {
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
        "SECURE_SSL_REDIRECT": https_only,
        "SECURE_HSTS_SECONDS": HSTS_ONE_YEAR_S if https_only else 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": https_only,
        "SESSION_COOKIE_SECURE": https_only,
        "CSRF_COOKIE_SECURE": https_only,
    }
