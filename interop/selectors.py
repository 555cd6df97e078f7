"""The records an export or a transfer summary reads: only what is not voided.

One function loads a patient's whole pump record in a fixed number of queries
(``patient_records``); the FHIR builders, the NDJSON export and the transfer summary all
start from it, so they can never disagree about which records count.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Prefetch

from alerts.models import Alert
from patients.models import Patient
from pumps.models import DoseChange, Pump, Refill, Surgery
from pumps.projection import active_dose_changes, active_refills
from trials.models import Goal, GoalReview, ToneAssessment, Trial


@dataclass
class PatientRecords:
    """A patient's records that count (none voided), each list oldest first."""

    patient: Patient
    pumps: list[Pump]
    surgeries: list[Surgery]
    dose_changes: list[DoseChange]
    refills: list[Refill]
    trials: list[Trial]
    goals: list[Goal]
    alerts: list[Alert]

    def pump_ids(self) -> set[int]:
        return {pump.pk for pump in self.pumps}


def _on_active_pumps(records: list[Any], pump_ids: set[int]) -> list[Any]:
    """A record on a voided pump was entered in error with its pump: it does not count either."""
    return [record for record in records if record.pump_id in pump_ids]


def patient_records(patient: Patient) -> PatientRecords:
    """Everything the export needs about one patient, not voided (nine queries)."""
    pumps = sorted(
        Pump.objects.active().filter(patient=patient).select_related("model"), key=lambda p: (p.implanted_on, p.pk)
    )
    pump_ids = {pump.pk for pump in pumps}
    surgeries = Surgery.objects.active().filter(patient=patient).select_related("surgeon", "pump")
    dose_changes = DoseChange.objects.active().filter(pump__patient=patient)
    refills = Refill.objects.active().filter(pump__patient=patient)
    trials = (
        Trial.objects.active()
        .filter(patient=patient)
        .prefetch_related(Prefetch("assessments", queryset=ToneAssessment.objects.active()))
        .order_by("performed_on", "pk")
    )
    goals = (
        Goal.objects.active()
        .filter(patient=patient)
        .prefetch_related(Prefetch("reviews", queryset=GoalReview.objects.active()))
        .order_by("set_on", "pk")
    )
    alerts = (
        Alert.objects.unresolved().filter(patient=patient).select_related("pump").order_by("urgency", "due_on", "pk")
    )
    return PatientRecords(
        patient=patient,
        pumps=pumps,
        surgeries=sorted(_on_active_pumps(list(surgeries), pump_ids), key=lambda s: (s.performed_on, s.pk)),
        dose_changes=active_dose_changes(_on_active_pumps(list(dose_changes), pump_ids)),
        refills=active_refills(_on_active_pumps(list(refills), pump_ids)),
        trials=list(trials),
        goals=list(goals),
        alerts=_on_active_pumps(list(alerts), pump_ids),
    )


@dataclass
class TransferSummary:
    """What a receiving clinic needs on day one (issue 11, "Transfer of care").

    The pump's dates are its stored projection columns (``alarm_date``,
    ``refill_due_on``, ``battery_end_of_service_on``), written by the dosing module:
    the summary prints what the worklists and the alert scan read.
    """

    records: PatientRecords
    prepared_on: datetime.date
    pump: Pump | None  # the pump in the patient now
    program: DoseChange | None  # the pump's current dose program
    last_fill: Refill | None  # the pump's latest fill
    clinic: dict[str, Any] = field(default_factory=dict)

    @property
    def patient(self) -> Patient:
        return self.records.patient

    @property
    def surgeries(self) -> list[Surgery]:
        return self.records.surgeries

    @property
    def open_alerts(self) -> list[Alert]:
        return self.records.alerts

    @property
    def goals(self) -> list[Goal]:
        return self.records.goals

    @property
    def explanted_pumps(self) -> list[Pump]:
        return [pump for pump in self.records.pumps if pump.explanted_on is not None]


def _latest_on_pump(records: list[Any], pump: Pump | None) -> Any:
    on_pump = [record for record in records if pump is not None and record.pump_id == pump.pk]
    return on_pump[-1] if on_pump else None


def transfer_summary(records: PatientRecords, *, prepared_on: datetime.date) -> TransferSummary:
    """The transfer summary of a patient: the pump in place, its program and last fill, and the rest."""
    implanted = [pump for pump in records.pumps if pump.explanted_on is None]
    pump = implanted[-1] if implanted else None
    return TransferSummary(
        records=records,
        prepared_on=prepared_on,
        pump=pump,
        program=_latest_on_pump(records.dose_changes, pump),
        last_fill=_latest_on_pump(records.refills, pump),
        clinic=dict(settings.CLINIC),
    )
