"""Who may do what, checked by the services themselves (defence in depth).

Views and API endpoints check the permission before they call a service; the service
checks it again, so that a new entry point (an import, a job, a forgotten view) cannot
skip it. Roles a record points at (a patient's pump nurse, a surgery's surgeon) are
checked here too, so the page and the API agree.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from spasticity.roles import Role


def require_permission(by: Any, permission: str, message: str = "Your role does not allow this.") -> None:
    """Refuse the action unless ``by`` holds ``permission`` (an inactive account holds none)."""
    if by is None or not by.has_perm(permission):
        raise PermissionDenied(message)


def staff_with_role(*roles: Role) -> QuerySet[User]:
    """Active accounts holding any of ``roles``: the people a record may name in that role."""
    return (
        User.objects.filter(groups__name__in=[role.value for role in roles], is_active=True)
        .distinct()
        .order_by("last_name", "username")
    )


def holds_role(user: Any, *roles: Role) -> bool:
    """True when ``user`` is an active account holding any of ``roles``."""
    if user is None or not getattr(user, "is_active", False) or getattr(user, "pk", None) is None:
        return False
    return bool(user.groups.filter(name__in=[role.value for role in roles]).exists())
