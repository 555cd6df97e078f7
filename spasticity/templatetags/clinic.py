from typing import Any

from django import template
from django.urls import reverse

register = template.Library()


@register.filter
def model_label(record: Any) -> str:
    """``app_label.modelname`` of a record, for the history and void URLs."""
    return f"{record._meta.app_label}.{record._meta.model_name}"


@register.simple_tag
def history_url(record: Any) -> str:
    return reverse("record_history", args=[model_label(record), record.pk])


@register.filter
def staff_name(user: Any) -> str:
    """A staff member's full name, falling back to the username; a dash for nobody."""
    if user is None:
        return "—"
    return str(user.get_full_name() or user.username)
