"""The Django admin is for looking: clinical records and their history, read-only.

Every write to a clinical record has rules (a signed trial changes only through an
amendment, a refill moves the pump's dates, a void re-derives what it fed) and those
rules live in the services behind the pages and the API. The admin bypasses them, so for
clinical records it offers no add, change, delete or history revert, to anyone,
superusers included (spec section 10).

Staff logins are deactivated, never deleted: a deleted user would blank ``history_user``
on every record they touched (``spasticity.staff`` refuses it below the admin too).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from simple_history.admin import SimpleHistoryAdmin


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """List and detail pages only: no add, change or delete for anyone."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ClinicalRecordAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):  # type: ignore[misc]
    """A clinical record in the admin: read-only, with its history visible but never reverted.

    ``SIMPLE_HISTORY_REVERT_DISABLED`` hides the revert button; simple-history's version
    page would still save a POST (reverting the record) for anyone who may *view* it, so
    it answers only GET here.
    """

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied("Clinical records are never reverted from the admin.")
        return super().history_form_view(request, object_id, version_id, extra_context)  # type: ignore[no-any-return]


admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):  # type: ignore[type-arg]
    """Staff accounts: untick "Active" to end someone's access; deleting is refused."""

    list_display = ["username", "first_name", "last_name", "email", "is_active", "last_login"]
    list_filter = ["is_active", "groups", "is_staff", "is_superuser"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
