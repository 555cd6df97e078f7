"""Where a form goes back to: the ``next`` it was given, but only on this site.

Forms carry ``next`` so that an action returns to the list it was started from. Taken as
it is, ``next=https://evil.example/`` turns a clinic page into a link that lands a
signed-in nurse on a look-alike login page: every view that honours ``next`` asks here.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next_url(request: HttpRequest, default: str) -> str:
    """The request's ``next`` (POST, then GET) when it stays on this host, else ``default``.

    Only relative URLs and absolute ones on the request's own host pass; an HTTPS page
    never sends the user back to plain HTTP.
    """
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def redirect_to_next(request: HttpRequest, default: str) -> HttpResponseRedirect:
    """Redirect to ``safe_next_url(request, default)``."""
    return HttpResponseRedirect(safe_next_url(request, default))
