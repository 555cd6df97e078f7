"""The browser session as API authentication, once it has passed the second factor.

Kept apart from the API views: DRF imports its authentication classes while
``rest_framework.views`` is still loading.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.authentication import SessionScheme
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request

from spasticity.two_factor import is_verified, two_factor_required


class VerifiedSessionAuthentication(SessionAuthentication):
    """With ``REQUIRE_2FA``, a session that has only passed the password is anonymous to the API."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is not None and two_factor_required() and not is_verified(result[0]):
            return None
        return result


class VerifiedSessionScheme(SessionScheme):
    """Documents the session cookie for the schema, as for DRF's own SessionAuthentication."""

    target_class = "spasticity.api_session.VerifiedSessionAuthentication"
