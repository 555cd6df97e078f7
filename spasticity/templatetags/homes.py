"""Tags of the role homes (``spasticity.home_views``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from spasticity.templatetags.clinic import tel_href

register = template.Library()


@register.simple_tag
def phone_links(phones: Mapping[int, Sequence[Any]] | None, patient_id: int) -> SafeString:
    """The patient's caregivers' numbers as ``tel:`` links (one tap on a phone), legal guardians
    first; nothing when the page has no phones or the family gave none."""
    caregivers = (phones or {}).get(patient_id, ())
    if not caregivers:
        return SafeString("")
    links = format_html_join(" ", "{}", ((_phone_link(caregiver),) for caregiver in caregivers))
    return format_html(
        '<span class="d-inline-flex flex-wrap gap-1 ms-1" data-testid="phones-{}">{}</span>', patient_id, links
    )


def _phone_link(caregiver: Any) -> SafeString:
    """One caregiver's number: a ``tel:`` button, or the number as typed when it cannot be dialled."""
    href = tel_href(caregiver.phone)
    if not href:
        return format_html(
            '<span class="small text-muted" data-testid="phone-{}" title="{} ({})">{}</span>',
            caregiver.pk,
            caregiver.name,
            caregiver.relationship,
            caregiver.phone,
        )
    return format_html(
        '<a class="btn btn-sm btn-outline-success py-0" href="{}" data-testid="call-{}" title="{} ({})">'
        '<i class="bi bi-telephone" aria-hidden="true"></i><span class="visually-hidden">Call {} ({}):</span> {}</a>',
        href,
        caregiver.pk,
        caregiver.name,
        caregiver.relationship,
        caregiver.name,
        caregiver.relationship,
        caregiver.phone,
    )
