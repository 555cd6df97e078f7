"""The refused pages: a 403 that says which role would be allowed, and a CSRF failure the page understands.

Most views check a permission (``permission_required``, ``user.has_perm``) and raise a bare
``PermissionDenied``. ``RefusedPermissionBackend``, the last authentication backend, is asked
only when no other backend granted a permission, and notes it on the user object of the
request, so the 403 page can name the refused capability and the roles that hold it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from spasticity.roles import CAPABILITIES, ROLE_LABELS, Capability, Role, roles_of
from spasticity.session_guard import is_htmx

REFUSED_PERMISSIONS_ATTR = "_refused_permissions"
CSRF_ERROR = "csrf"
CSRF_MESSAGE = (
    "This page's security token has expired (you signed in again, or the page was open a long time). "
    "Reload the page and send it again."
)
CLINIC_APP_LABEL = "spasticity"


class RefusedPermissionBackend:
    """Grants nothing; remembers which clinic permissions this request was refused."""

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> None:
        return None

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        if perm.startswith(f"{CLINIC_APP_LABEL}.") and getattr(user_obj, "is_authenticated", False):
            refused = user_obj.__dict__.setdefault(REFUSED_PERMISSIONS_ATTR, [])
            refused.append(perm)
        return False


@dataclass(frozen=True)
class Refusal:
    """What a 403 tells: the reason given, and the capability and roles it needs when known."""

    reason: str
    capability: Capability | None
    needed_role_labels: list[str]
    your_role_labels: list[str]


def capability_for(permission: str) -> Capability | None:
    codename = permission.removeprefix(f"{CLINIC_APP_LABEL}.")
    return next((capability for capability in CAPABILITIES if capability.codename == codename), None)


def refusal_for(request: HttpRequest, exception: Exception | None) -> Refusal:
    user = request.user
    refused = getattr(user, REFUSED_PERMISSIONS_ATTR, None) or []
    # The last refusal is the check that raised: earlier ones may have been "either … or" checks.
    capability = capability_for(refused[-1]) if refused else None
    # In the table's order (doctor first), not alphabetically by slug.
    needed = [ROLE_LABELS[role] for role in Role if capability and role in capability.roles]
    held = roles_of(user)
    reason = str(exception) if exception is not None and str(exception) else ""
    return Refusal(
        reason=reason,
        capability=capability,
        needed_role_labels=needed,
        your_role_labels=[ROLE_LABELS[role] for role in Role if role in held],
    )


def refusal_sentence(refusal: Refusal) -> str:
    """One line for the page and for a refused htmx save."""
    if refusal.reason:
        return refusal.reason
    if refusal.capability:
        action = refusal.capability.description[0].lower() + refusal.capability.description[1:]
        return f"To {action} you need the role {' or '.join(refusal.needed_role_labels)}."
    return "Your role does not allow this."


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler403``: JSON under ``/api/`` and for htmx, else the styled page naming the needed role."""
    refusal = refusal_for(request, exception)
    sentence = refusal_sentence(refusal)
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": sentence}, status=403)
    if is_htmx(request):
        return JsonResponse({"error": "forbidden", "detail": f"Not saved: {sentence}"}, status=403)
    context = {"refusal": refusal, "sentence": sentence, "page_title": "Not allowed"}
    return render(request, "403.html", context, status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: for htmx a 403 JSON error the page retries with a fresh token."""
    if is_htmx(request):
        return JsonResponse({"error": CSRF_ERROR, "detail": CSRF_MESSAGE}, status=403)
    refusal = Refusal(reason=CSRF_MESSAGE, capability=None, needed_role_labels=[], your_role_labels=[])
    context = {
        "refusal": refusal,
        "sentence": CSRF_MESSAGE,
        "page_title": "Page expired",
        "csrf": True,
        "reload_url": _page_sent_from(request),
    }
    return render(request, "403.html", context, status=403)


def _page_sent_from(request: HttpRequest) -> str:
    """The page the refused form was on (the Referer, same host only; the policy is same-origin), else ''."""
    referer = request.headers.get("Referer", "")
    allowed = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return referer if referer and allowed else ""
