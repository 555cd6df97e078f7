"""API access: every role reads; writes need the viewset's ``write_permission``.

A viewset declares ``write_permission = PERMS.X`` (and may declare per-action
permissions in ``action_permissions``). Anything without a declaration is read-only.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from spasticity.roles import roles_of


class RolePermission(BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and roles_of(user)):
            return False
        if request.method in SAFE_METHODS:
            return True
        action = getattr(view, "action", None)
        required = getattr(view, "action_permissions", {}).get(action) or getattr(view, "write_permission", None)
        return isinstance(required, str) and bool(required) and user.has_perm(required)
