"""Sign-in lockout: django-axes per username at an address, plus a higher limit per address.

Axes compares one failure limit with the largest failure count among its lockout
parameters, so it cannot lock a username after 5 failures and a whole address after 30.
Its maintainers suggest a custom handler for that (jazzband/django-axes#661); this one
keeps everything axes does and adds the per-address count. The address limit is higher
because a clinic's staff often share one public address: one colleague's typos must not
lock the whole ward out, but spraying many usernames from one address must stop.
"""

from __future__ import annotations

from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


def address_failures(request: HttpRequest) -> int:
    """Failed sign-ins from the request's address, across every username, within the cool-off period."""
    attempts = AccessAttempt.objects.filter(ip_address=request.axes_ip_address)  # type: ignore[attr-defined]
    if settings.AXES_COOLOFF_TIME:
        attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
    return attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0


def address_is_locked(request: HttpRequest) -> bool:
    return bool(getattr(settings, "AXES_LOCK_OUT_AT_FAILURE", True)) and (
        address_failures(request) >= settings.LOGIN_FAILURES_PER_ADDRESS_LIMIT
    )


class AddressLimitedAxesHandler(AxesDatabaseHandler):
    """Axes' database handler, also locking an address out after too many failures across usernames."""

    def is_locked(self, request: Any, credentials: dict[str, Any] | None = None) -> bool:
        return super().is_locked(request, credentials) or address_is_locked(request)

    def user_login_failed(self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
        super().user_login_failed(sender, credentials, request, **kwargs)
        # Axes flags the request only when the username's own count is reached; flag it for the
        # address too, so that the failure which reaches the address limit is already answered 429.
        if request is None or request.axes_locked_out or self.is_whitelisted(request, credentials):
            return
        if address_is_locked(request):
            request.axes_locked_out = True
            request.axes_credentials = credentials
