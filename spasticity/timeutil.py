"""The edges of the app read the clock here, in the clinic's time zone."""

from datetime import date

from django.utils import timezone


def clinic_today() -> date:
    return timezone.localdate()
