"""Self-saving pages never lose a keystroke: the server's half (``static/js/session_guard.js`` is the other).

- ``session_ping``: the page pings on activity, which keeps the session alive (the idle timeout
  counts requests) and, once signed out, tells the page so before the next save is lost.
- ``HtmxLoginRequiredMiddleware``: an htmx save from a signed-out browser answers a 401 JSON
  error, never a redirect to the login page (htmx would follow it and put the whole login
  page inside a table cell). The page keeps the typed value and offers to sign in again.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import resolve_url
from django.views.decorators.http import require_GET

# What static/js/session_guard.js reads: the JSON ``error`` of a refused htmx request.
SIGNED_OUT_ERROR = "signed_out"
SIGNED_OUT_MESSAGE = "Not saved: sign in again."
# The ping's answer carries the session's current CSRF token: signing in again rotates it, and
# a page opened before then must send the new one with its next save.
CSRF_TOKEN_HEADER = "X-CSRFToken"


def is_htmx(request: HttpRequest) -> bool:
    """An htmx request (read from the header: the login check runs before django-htmx's middleware)."""
    return request.headers.get("HX-Request") == "true"


def signed_out_response() -> JsonResponse:
    """401 for a request whose session has ended (idle or absolute limit, signed out elsewhere)."""
    response = JsonResponse(
        {"error": SIGNED_OUT_ERROR, "detail": SIGNED_OUT_MESSAGE, "login_url": resolve_url(settings.LOGIN_URL)},
        status=401,
    )
    # A 401 names how to authenticate; "FormBased" is not a scheme a browser prompts for.
    response["WWW-Authenticate"] = 'FormBased realm="ITB Clinic"'
    return response


class HtmxLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Django's login requirement, with a 401 JSON answer for htmx instead of the login page."""

    def handle_no_permission(self, request: HttpRequest, view_func: Any) -> HttpResponse:  # type: ignore[override]
        if is_htmx(request):
            return signed_out_response()
        return super().handle_no_permission(request, view_func)


@login_not_required
@require_GET
def session_ping(request: HttpRequest) -> HttpResponse:
    """204 while signed in (the request itself extends the idle timeout), 401 once signed out.

    It never extends a session past ``SESSION_ABSOLUTE_LIMIT_HOURS``: the idle middleware
    ends the session at that age whatever the activity.
    """
    if not request.user.is_authenticated:
        return signed_out_response()
    response = HttpResponse(status=204)
    response[CSRF_TOKEN_HEADER] = get_token(request)
    return response
