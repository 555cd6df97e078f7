"""Typed access to the clinic settings (``settings.CLINIC``)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from patients.pathway import StageRules
from pumps.dosing import DosingSettings


def stage_rules() -> StageRules:
    return StageRules(
        titration_ends_after_days_without_change=int(settings.CLINIC["TITRATION_ENDS_AFTER_DAYS_WITHOUT_CHANGE"])
    )


def dosing_settings() -> DosingSettings:
    """The dosing thresholds from ``settings.CLINIC`` (decimals via ``str``: never floats)."""
    clinic = settings.CLINIC
    return DosingSettings(
        refill_lead_days=int(clinic["REFILL_LEAD_DAYS"]),
        max_refill_interval_days=int(clinic["MAX_REFILL_INTERVAL_DAYS"]),
        delivery_deviation_threshold_percent=Decimal(str(clinic["DELIVERY_DEVIATION_THRESHOLD_PERCENT"])),
        dose_change_confirm_percent=Decimal(str(clinic["DOSE_CHANGE_CONFIRM_PERCENT"])),
        dose_confirm_above_mcg=Decimal(str(clinic["DOSE_CONFIRM_ABOVE_MCG"])),
        starting_dose_bolus_multiplier=Decimal(str(clinic.get("STARTING_DOSE_BOLUS_MULTIPLIER", "2"))),
    )
