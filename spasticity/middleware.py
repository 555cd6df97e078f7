"""End a signed-in session after a period with no requests (a shared clinic tablet)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

LAST_SEEN_KEY = "last_seen_epoch_s"
SIGNED_IN_KEY = "signed_in_epoch_s"
# The last-seen time is written at most once a minute. Writing it on every request saved
# the session (an UPDATE and a commit) on every page, report and save; a session may now
# end up to a minute before the idle limit, never after it.
LAST_SEEN_RESOLUTION_S = 60


class IdleSessionTimeoutMiddleware:
    """Ends a session idle for ``SESSION_IDLE_TIMEOUT_MINUTES``, and any session
    ``SESSION_ABSOLUTE_LIMIT_HOURS`` old however active: the pages' keep-alive ping
    (spasticity.session_guard) extends the first, never the second."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and hasattr(request, "session"):
            now_s = int(time.time())
            last_seen_s = request.session.get(LAST_SEEN_KEY)
            signed_in_s = request.session.setdefault(SIGNED_IN_KEY, now_s)
            idle_limit_s = settings.SESSION_IDLE_TIMEOUT_MINUTES * 60
            absolute_limit_s = settings.SESSION_ABSOLUTE_LIMIT_HOURS * 60 * 60
            idle = last_seen_s is not None and now_s - int(last_seen_s) > idle_limit_s
            if idle or now_s - int(signed_in_s) > absolute_limit_s:
                logout(request)
            elif last_seen_s is None or now_s - int(last_seen_s) >= LAST_SEEN_RESOLUTION_S:
                request.session[LAST_SEEN_KEY] = now_s
        return self.get_response(request)


class ClinicRoleRequiredMiddleware:
    """A signed-in user who holds no clinic role sees no page but the sign-in/out pages.

    Anonymous users are sent to the login page by Django's LoginRequiredMiddleware;
    the API checks roles itself (spasticity.api_permissions) and answers 401/403.
    """

    OPEN_PREFIXES = ("/accounts/", "/static/", "/api/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.core.exceptions import PermissionDenied

        from spasticity.roles import roles_of

        user = request.user
        if (
            user.is_authenticated
            and not user.is_superuser
            and not request.path.startswith(self.OPEN_PREFIXES)
            and not roles_of(user)
        ):
            raise PermissionDenied("Your account has no clinic role. Ask an administrator.")
        return self.get_response(request)


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every response the app itself renders.

    A shared clinic PC's browser cache must keep no copy of a patient page, an API answer,
    a CSV or a PDF. Every response carries the header, not only the signed-in ones: an API
    token is only read inside the view, and one rule for all cannot miss a case. Static
    files are served by WhiteNoise before this middleware runs, and keep their long cache.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        add_never_cache_headers(response)
        return response
