"""What the pump and refill pages show about bookings: the pump's booked refill, or "not booked"."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import template
from django.urls import reverse

from appointments.models import Appointment, AppointmentKind
from appointments.selectors import booked_refill

register = template.Library()


@register.simple_tag
def booked_refill_of(pump: Any) -> Appointment | None:
    """The pump's booked refill appointment (one query), or None."""
    return booked_refill(pump) if pump is not None and pump.pk else None


@register.simple_tag
def book_refill_url(pump: Any) -> str:
    """The booking form, prefilled for the pump's next refill on a suggested day inside its window."""
    return f"{reverse('appointments:create')}?{urlencode({'pump': pump.pk, 'kind': AppointmentKind.REFILL})}"
