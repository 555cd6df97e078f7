"""The transfer-of-care summary: its sections as text, and the same as a FHIR ``document`` Bundle.

The PDF (``interop.pdf``) and the FHIR document print the same ``summary_sections``, so a
receiving clinic reads the same facts on paper and in its system. The sections follow the
International Patient Summary (IPS) and carry its LOINC section codes.

The document Bundle holds the ``Composition`` first, then every resource its sections
reference, and everything those reference in turn (the pump a flag names, the care team a
care plan names ...), so every reference resolves inside the Bundle.
"""

from __future__ import annotations

import datetime
import html
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pumps.models import DoseChange, Pump, Refill

from . import fhir
from .fhir import Resource, coding, reference, resource_id
from .selectors import TransferSummary

PATIENT_SUMMARY = ("60591-5", "Patient summary Document")
PROBLEMS = ("11450-4", "Problem list - Reported")
ALLERGIES = ("48765-2", "Allergies and adverse reactions Document")
MEDICATIONS = ("10160-0", "History of Medication use Narrative")
DEVICES = ("46264-8", "History of medical device use")
PROCEDURES = ("47519-4", "History of Procedures Document")
RESULTS = ("30954-2", "Relevant diagnostic tests/laboratory data Narrative")
ALERTS = ("104605-1", "Alert")
PLAN_OF_CARE = ("18776-5", "Plan of care note")
LIST_EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason"


@dataclass
class Section:
    """One section of the summary: a title, its lines of text, and the FHIR resources behind them."""

    key: str
    title: str
    loinc: tuple[str, str]
    lines: list[str]
    entries: list[dict[str, str]] = field(default_factory=list)
    empty_reason: str = ""


def _d(value: datetime.date | None) -> str:
    return value.isoformat() if value else "not known"


def _mcg(value: Any) -> str:
    return f"{fhir.number(value)}"


def program_lines(program: DoseChange | None) -> list[str]:
    if program is None:
        return ["No dose program is recorded for the pump in place."]
    lines = [
        f"Intrathecal baclofen, {program.get_mode_display().lower()}: "
        f"{_mcg(program.daily_dose_mcg)} mcg a day, since {_d(program.changed_on)}."
    ]
    if program.mode == DoseChange.Mode.FLEX:
        lines += [
            f"From {step.start_time:%H:%M}: {_mcg(step.rate_mcg_per_hour)} mcg an hour."
            for step in program.parsed_flex_steps()
        ]
    return lines


def fill_lines(summary: TransferSummary) -> list[str]:
    fill, pump = summary.last_fill, summary.pump
    if pump is None:
        return ["No pump in place: no refill is due."]
    if fill is None:
        return ["No fill is recorded for the pump in place: its alarm date cannot be computed."]
    lines = [
        f"Last fill on {_d(fill.refilled_on)}: {_mcg(fill.volume_added_ml)} mL of {fill.get_drug_display()} "
        f"at {_mcg(fill.concentration_mcg_per_ml)} mcg/mL (lot {fill.lot_number or 'not recorded'})."
    ]
    if fill.aspirated_volume_ml is not None:
        lines.append(f"Residual aspirated at that fill: {_mcg(fill.aspirated_volume_ml)} mL.")
    lines.append(f"Low-reservoir alarm date: {_d(pump.alarm_date)}. Refill due by: {_d(pump.refill_due_on)}.")
    return lines


def pump_lines(pump: Pump) -> list[str]:
    state = "in place" if pump.explanted_on is None else f"explanted on {_d(pump.explanted_on)}"
    lines = [
        f"{pump.model} pump, serial {pump.serial_number}, {_mcg(pump.reservoir_volume_ml)} mL reservoir, "
        f"low-reservoir alarm at {_mcg(pump.low_reservoir_alarm_ml)} mL; implanted on {_d(pump.implanted_on)}, "
        f"{state}.",
    ]
    if pump.explanted_on is None:
        catheter = pump.catheter_model or "model not recorded"
        lines.append(f"Catheter: {catheter}, tip at {pump.catheter_tip_level or 'a level not recorded'}.")
        if pump.pump_site:
            lines.append(f"Pump site: {pump.pump_site}.")
        lines.append(f"Battery end of service expected: {_d(pump.battery_end_of_service_on)}.")
    return lines


def _device_section(summary: TransferSummary) -> Section:
    lines: list[str] = []
    entries = []
    pumps = ([summary.pump] if summary.pump else []) + summary.explanted_pumps
    for pump in pumps:
        lines += pump_lines(pump)
        entries += [
            reference("DeviceUseStatement", "pump", pump.pk),
            reference("DeviceUseStatement", "catheter", pump.pk),
        ]
    return Section("devices", "Pump and catheter", DEVICES, lines or ["No pump has been implanted."], entries)


def _procedure_section(summary: TransferSummary) -> Section:
    lines, entries = [], []
    for surgery in summary.surgeries:
        detail = f"; complications: {', '.join(surgery.complication_labels)}" if surgery.complications else ""
        lines.append(
            f"{_d(surgery.performed_on)}: {surgery.get_kind_display()} ({surgery.pump.serial_number}){detail}."
        )
        entries.append(reference("Procedure", "surgery", surgery.pk))
    if summary.last_fill is not None:
        entries.append(reference("Procedure", "refill", summary.last_fill.pk))
    return Section("procedures", "Surgical history", PROCEDURES, lines or ["No pump surgery recorded."], entries)


def _alert_section(summary: TransferSummary) -> Section:
    lines = [
        f"{alert.get_kind_display()}: {_d(alert.due_on)} ({alert.get_status_display().lower()}), "
        f"pump {alert.pump.serial_number}."
        for alert in summary.open_alerts
    ]
    entries = [reference("Flag", alert.pk) for alert in summary.open_alerts]
    return Section("alerts", "Open alerts", ALERTS, lines or ["No open alerts."], entries)


def _care_team_lines(summary: TransferSummary) -> list[str]:
    patient, clinic = summary.patient, summary.clinic
    doctor, nurse = patient.assigned_doctor, patient.assigned_nurse
    lines = [
        f"Rehabilitation doctor: {doctor.get_full_name() or doctor.username if doctor else 'not assigned'}.",
        f"Pump nurse: {nurse.get_full_name() or nurse.username if nurse else 'not assigned'}.",
    ]
    if clinic.get("PHONE"):
        lines.append(f"{clinic.get('NAME', 'Clinic')}: {clinic['PHONE']} (working hours).")
    if clinic.get("OUT_OF_HOURS_PHONE"):
        lines.append(f"Out of hours: {clinic['OUT_OF_HOURS_PHONE']}.")
    return lines


def _plan_section(summary: TransferSummary) -> Section:
    lines = []
    pump = summary.pump
    if pump is not None and pump.refill_due_on:
        lines.append(f"Next refill due by {_d(pump.refill_due_on)}; low-reservoir alarm on {_d(pump.alarm_date)}.")
    for goal in summary.goals:
        latest = goal.active_reviews[-1] if goal.active_reviews else None
        reached = f"; last review {_d(latest.reviewed_on)}: level {latest.level:+d}" if latest else ""
        lines.append(f"Goal ({goal.get_domain_display().lower()}): {goal.description}{reached}.")
    lines += _care_team_lines(summary)
    entries = [reference("CarePlan", summary.patient.pk), *(reference("Goal", goal.pk) for goal in summary.goals)]
    return Section("plan", "Plan of care and care team", PLAN_OF_CARE, lines, entries)


def summary_sections(summary: TransferSummary) -> list[Section]:
    """The summary's sections, in the order the PDF prints them."""
    patient = summary.patient
    program = summary.program
    last_fill = summary.last_fill
    return [
        Section(
            "problems",
            "Diagnosis",
            PROBLEMS,
            [
                f"{patient.get_diagnosis_display()}"
                + (f", GMFCS {patient.gmfcs_level}." if patient.gmfcs_level else ".")
            ],
            [reference("Condition", patient.pk)],
        ),
        Section(
            "medications",
            "Current program",
            MEDICATIONS,
            program_lines(program),
            [reference("MedicationRequest", program.pk)] if program else [],
        ),
        Section(
            "last_fill",
            "Last fill and alarm date",
            RESULTS,
            fill_lines(summary),
            _fill_entries(last_fill),
        ),
        _device_section(summary),
        _procedure_section(summary),
        _alert_section(summary),
        _plan_section(summary),
        Section(
            "allergies",
            "Allergies",
            ALLERGIES,
            ["Allergies are not recorded by the pump service: ask the patient's primary record."],
            empty_reason="unavailable",
        ),
    ]


def _fill_entries(fill: Refill | None) -> list[dict[str, str]]:
    """The observations the export makes of the last fill (see ``fhir.refill_observations``)."""
    if fill is None:
        return []
    return [reference("Observation", "refill", fill.pk, code) for code, _ in fhir.refill_observation_values(fill)]


# --------------------------------------------------------------------------
# FHIR
# --------------------------------------------------------------------------


def narrative(lines: list[str]) -> dict[str, str]:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><ul>{items}</ul></div>'}


def composition_section(section: Section) -> dict[str, Any]:
    code, display = section.loinc
    result: dict[str, Any] = {
        "title": section.title,
        "code": {"coding": [coding(fhir.LOINC, code, display)]},
        "text": narrative(section.lines),
    }
    if section.entries:
        result["entry"] = section.entries
    elif section.empty_reason:
        result["emptyReason"] = {"coding": [coding(LIST_EMPTY_REASON, section.empty_reason)]}
    return result


def care_plan(summary: TransferSummary) -> Resource:
    """The refill plan of the pump in place and the patient's goals, for the plan-of-care section."""
    patient, pump = summary.patient, summary.pump
    resource: Resource = {
        "resourceType": "CarePlan",
        "id": resource_id("CarePlan", patient.pk),
        "status": "active",
        "intent": "plan",
        "title": "Intrathecal baclofen pump: refills and follow-up",
        "subject": reference("Patient", patient.pk),
        "careTeam": [reference("CareTeam", patient.pk)],
    }
    if summary.goals:
        resource["goal"] = [reference("Goal", goal.pk) for goal in summary.goals]
    if pump is not None and pump.refill_due_on:
        resource["activity"] = [
            {
                "detail": {
                    "code": fhir.local_concept("procedure", "pump-refill"),
                    "status": "not-started",
                    "scheduledPeriod": {"end": pump.refill_due_on.isoformat()},
                    "description": (
                        f"Refill pump {pump.serial_number} by {_d(pump.refill_due_on)}: "
                        f"the low-reservoir alarm is expected on {_d(pump.alarm_date)}."
                    ),
                }
            }
        ]
    return resource


def composition(summary: TransferSummary, sections: list[Section], *, timestamp: datetime.datetime) -> Resource:
    patient = summary.patient
    return {
        "resourceType": "Composition",
        "id": str(uuid.uuid4()),
        "status": "final",
        "type": {"coding": [coding(fhir.LOINC, *PATIENT_SUMMARY)]},
        "subject": reference("Patient", patient.pk),
        "date": timestamp.isoformat(timespec="seconds"),
        "author": [reference("Organization", "clinic")],
        "title": f"Transfer of care summary: intrathecal baclofen pump ({patient.full_name})",
        "custodian": reference("Organization", "clinic"),
        "section": [composition_section(section) for section in sections],
    }


def references_in(node: Any) -> Iterator[str]:
    """Every ``reference`` string anywhere inside ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                yield value
            else:
                yield from references_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from references_in(item)


def referenced_closure(start: Resource, resources: list[Resource]) -> list[Resource]:
    """``resources`` that ``start`` references, directly or through each other, in their given order."""
    by_url = {fhir.full_url(resource): resource for resource in resources}
    wanted: set[str] = set()
    pending = list(references_in(start))
    while pending:
        url = pending.pop()
        if url in wanted or url not in by_url:
            continue
        wanted.add(url)
        pending += references_in(by_url[url])
    return [resource for resource in resources if fhir.full_url(resource) in wanted]


def transfer_document(summary: TransferSummary, *, timestamp: datetime.datetime) -> Resource:
    """The transfer summary as a FHIR ``document`` Bundle: the Composition, then what it references."""
    resources = [*fhir.patient_resources(summary.records, as_of=summary.prepared_on), care_plan(summary)]
    head = composition(summary, summary_sections(summary), timestamp=timestamp)
    document = fhir.bundle([head, *referenced_closure(head, resources)], bundle_type="document", timestamp=timestamp)
    document["identifier"] = {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"}
    return document
