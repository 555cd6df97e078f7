"""API tokens (django-rest-knox): issued after the password (and the second factor), hashed at rest.

A token dies:
1. after ``API_TOKEN_IDLE_MINUTES`` without use (the same idle rule as a signed-in page);
   each use pushes its expiry forward (knox's ``AUTO_REFRESH``);
2. within the idle time after it is ``API_TOKEN_MAX_HOURS`` old: use no longer extends it
   (knox's ``AUTO_REFRESH_MAX_TTL``), so a working day's token does not outlive the day;
3. with every other token of its user when their password changes or they are deactivated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from knox.models import AuthToken
from knox.settings import knox_settings

# Set on the instance by pre_save, read by post_save: the save changes the password or deactivates.
_REVOKES_TOKENS = "_revokes_api_tokens"
CREDENTIAL_FIELDS = frozenset({"password", "is_active"})


def api_token_issue(*, user: User) -> tuple[AuthToken, str]:
    """A new token for ``user``; returns the stored row and the token text, which is shown once."""
    return AuthToken.objects.create(user=user, expiry=knox_settings.TOKEN_TTL)


def api_tokens_revoke(*, user: User) -> int:
    """Delete every API token of ``user``; returns how many there were."""
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted


def credentials_changed(*, stored: Mapping[str, Any], user: User) -> bool:
    """Whether saving ``user`` over its stored row changes the password or deactivates the account."""
    return stored["password"] != user.password or (stored["is_active"] and not user.is_active)


@receiver(pre_save, sender=User, dispatch_uid="api_tokens_note_credential_change")
def _note_credential_change(sender: type[User], instance: User, update_fields: Any = None, **kwargs: Any) -> None:
    # A login's last_login save touches neither field: skip the extra query.
    if instance.pk is None or (update_fields is not None and not CREDENTIAL_FIELDS & set(update_fields)):
        return
    stored = User.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if stored is not None:
        setattr(instance, _REVOKES_TOKENS, credentials_changed(stored=stored, user=instance))


@receiver(post_save, sender=User, dispatch_uid="api_tokens_revoke_after_credential_change")
def _revoke_after_credential_change(sender: type[User], instance: User, **kwargs: Any) -> None:
    if getattr(instance, _REVOKES_TOKENS, False):
        api_tokens_revoke(user=instance)
        setattr(instance, _REVOKES_TOKENS, False)
