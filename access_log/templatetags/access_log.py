from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html

from access_log.rules import access_log_readable_with

register = template.Library()


@register.simple_tag(takes_context=True)
def access_log_link(context: Any, patient: Any) -> str:
    """The "Who has looked" button on a patient's page, for the roles that may read the log.

    Reads the roles the context processor already loaded, so it costs no query.
    """
    if not access_log_readable_with(context.get("user_roles", ())):
        return ""
    return format_html(
        '<a class="btn btn-outline-secondary btn-sm" href="{}" data-testid="access-log-link">Who has looked</a>',
        reverse("access_log:patient", args=[patient.pk]),
    )
