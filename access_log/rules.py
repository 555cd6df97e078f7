"""Who may read the access log (spec section 10; issue 9: "visible to administrators").

Administrators answer the information-governance questions ("who has looked at this
record?"); clinicians read every clinical record but not who else did.
"""

from __future__ import annotations

from collections.abc import Iterable

from spasticity.roles import Role, roles_of

ACCESS_LOG_READERS: frozenset[Role] = frozenset({Role.ADMINISTRATOR})


def access_log_readable_with(role_names: Iterable[str]) -> bool:
    """True when any of these roles (group slugs) may read the access log."""
    return any(name in ACCESS_LOG_READERS for name in role_names)


def access_log_readable_by(user: object) -> bool:
    return access_log_readable_with(roles_of(user))
