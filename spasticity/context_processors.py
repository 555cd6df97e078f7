from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from spasticity.roles import ROLE_LABELS, roles_of


def roles(request: HttpRequest) -> dict[str, Any]:
    """Expose the user's roles to templates, for role-fitted navigation."""
    user_roles = roles_of(request.user)
    return {
        "user_roles": {role.value for role in user_roles},
        "user_role_labels": [ROLE_LABELS[role] for role in sorted(user_roles)],
        "clinic_name": settings.CLINIC["NAME"],
    }
