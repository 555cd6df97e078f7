"""Typed access to the clinic settings (``settings.CLINIC``)."""

from __future__ import annotations

from django.conf import settings

from patients.pathway import StageRules


def stage_rules() -> StageRules:
    return StageRules(
        titration_ends_after_days_without_change=int(settings.CLINIC["TITRATION_ENDS_AFTER_DAYS_WITHOUT_CHANGE"])
    )
