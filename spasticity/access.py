"""Who may do what, checked by the services themselves (defence in depth).

Views and API endpoints check the permission before they call a service; the service
checks it again, so that a new entry point (an import, a job, a forgotten view) cannot
skip it. Roles a record points at (a patient's pump nurse, a surgery's surgeon) are
checked here too, so the page and the API agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from spasticity.roles import Role

# Permissions that, while a ``permission_granted_by`` block runs, stand in for any other.
_standing_in: ContextVar[frozenset[str]] = ContextVar("permissions_standing_in", default=frozenset())


@contextmanager
def permission_granted_by(permission: str) -> Iterator[None]:
    """Inside this block, holding ``permission`` satisfies every ``require_permission``.

    One use: the caseload import (``imports.services``). Its own permission stands in for
    each record's (spec section 8: a nurse's import may record the historical implant, which
    ``pump_implant`` otherwise keeps for surgeons and doctors). The acting user must still
    hold ``permission`` itself, checked at each call, so a user without it gains nothing;
    the block ends with the import (a context variable, so other requests never see it).
    Voiding is not covered: ``void_record`` checks its own permission directly.
    """
    token = _standing_in.set(_standing_in.get() | {permission})
    try:
        yield
    finally:
        _standing_in.reset(token)


def require_permission(by: Any, permission: str, message: str = "Your role does not allow this.") -> None:
    """Refuse the action unless ``by`` holds ``permission`` (an inactive account holds none),
    or holds a permission standing in for it (``permission_granted_by``)."""
    if by is None:
        raise PermissionDenied(message)
    if by.has_perm(permission) or any(by.has_perm(standing_in) for standing_in in _standing_in.get()):
        return
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
