"""Staff users are deactivated, never deleted.

Every history row names the user who made the change (``history_user``); deleting the
user would blank it (simple-history's ``SET_NULL``) and the audit trail would lose who
did what. So deleting a user is refused everywhere: ``user.delete()``, a queryset's
``delete()`` and the admin (whose delete buttons are gone too, ``spasticity.admin``).
Set ``is_active = False`` instead; ``add_staff`` and the admin both do.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models import ProtectedError
from django.db.models.signals import pre_delete
from django.dispatch import receiver

USER_DELETE_REFUSED = (
    "Staff users are never deleted, so the audit trail keeps who made each change: "
    "deactivate the user instead (untick Active)."
)


@receiver(pre_delete, sender=User, dispatch_uid="spasticity.staff.user_delete_refuse")
def user_delete_refuse(sender: type[User], instance: User, **kwargs: Any) -> None:
    """Refuse the delete; the surrounding transaction rolls back anything already removed."""
    raise ProtectedError(USER_DELETE_REFUSED, {instance})
