"""Tags of the role homes (``spasticity.home_views``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()


def tel_href(phone: str) -> str:
    """A ``tel:`` address: the digits and a leading +, nothing a phone cannot dial."""
    kept = "".join(ch for ch in phone if ch.isdigit() or ch == "+")
    return f"tel:{kept}"


@register.simple_tag
def phone_links(phones: Mapping[int, Sequence[Any]] | None, patient_id: int) -> SafeString:
    """The patient's caregivers' numbers as ``tel:`` links (one tap on a phone), legal guardians
    first; nothing when the page has no phones or the family gave none."""
    caregivers = (phones or {}).get(patient_id, ())
    if not caregivers:
        return SafeString("")
    links = format_html_join(
        " ",
        '<a class="btn btn-sm btn-outline-success py-0" href="{}" data-testid="call-{}" title="{} ({})">'
        '<i class="bi bi-telephone" aria-hidden="true"></i><span class="visually-hidden">Call {} ({}):</span> {}</a>',
        ((tel_href(c.phone), c.pk, c.name, c.relationship, c.name, c.relationship, c.phone) for c in caregivers),
    )
    return format_html(
        '<span class="d-inline-flex flex-wrap gap-1 ms-1" data-testid="phones-{}">{}</span>', patient_id, links
    )
